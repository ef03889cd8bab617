"""File formats, one module each, every one mapped into the 54-point layout of :mod:`utils.layout`:
SPOTER CSVs (``spoter_csv``), the MediaPipe archives of ../shared/data (``mediapipe_npz``), pose-format
``.pose`` files (``pose_file``), MP_Data sequences (``mp_data``), landmark files of ``preprocess.py extract``
(``landmarks``), folders with one subfolder per class (``clip_files``), and safe ``.npz`` I/O (``npz_arrays``).
:mod:`datasets.reading` picks the reader by file type."""
