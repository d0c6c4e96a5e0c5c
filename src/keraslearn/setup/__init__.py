"""Setting up Keras for keraslearn: ``install_keras`` plans and runs installs, ``doctor``
diagnoses the environment, ``available``/``check`` answer "can keraslearn run here?".

Nothing here imports Keras at module level, so it all works where a backend is broken.
"""
