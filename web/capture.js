// The camera's frames, read in a worker as soon as the camera delivers them: the page's own thread is blocked
// by MediaPipe for 0.2-2 s a frame on a CPU, several camera frame periods, and a frame not read in time is lost.
// Each frame becomes an ImageBitmap sent to the page in order; the camera's buffer is handed back at once,
// since a camera stalls when its few buffers are all held.
self.onmessage = async ({ data }) => {
  const reader = data.frames.getReader();
  for (;;) {
    const { value: frame, done } = await reader.read();
    if (done) break;
    try {
      const bitmap = await createImageBitmap(frame);
      self.postMessage({ bitmap, timestampMs: frame.timestamp / 1000 }, [bitmap]);
    } finally {
      frame.close();
    }
  }
  self.postMessage({ ended: true });
};
