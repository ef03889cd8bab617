# GPU image: the base ships the CUDA build of the torch version pinned in requirements.txt, so pip keeps it.
# Override the base with --build-arg BASE_IMAGE=... to match your driver.
ARG BASE_IMAGE=pytorch/pytorch:2.13.0-cuda12.8-cudnn9-runtime
FROM ${BASE_IMAGE}

WORKDIR /app
COPY requirements.txt ./
RUN pip install --no-cache-dir -r requirements.txt
COPY . .

# Data goes in /app/data (or set BASE_DATA_FOLDER); runs are written to /app/out-checkpoints.
ENV BASE_DATA_FOLDER=/app/data PYTHONUNBUFFERED=1
CMD ["bash", "train.sh"]
