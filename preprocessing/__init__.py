"""From sign videos and pose files to train-ready SPOTER CSVs: landmark extraction and dataset creation."""
