#!/bin/sh
# The image's entrypoint, as TF Serving's: serve $MODEL_BASE_PATH/$MODEL_NAME
# on TF Serving's ports, with any further flags passed through
# (docker run IMAGE --enable_batching --monitoring_config_file=...).
set -e
exec tfserve --port=8500 --rest_api_port=8501 \
  --model_name="${MODEL_NAME}" --model_base_path="${MODEL_BASE_PATH}/${MODEL_NAME}" "$@"
