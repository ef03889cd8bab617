// The page: MediaPipe Holistic landmarks -> the sidecar's 54-point layout -> the exported model
// (onnxruntime-web; normalization is inside the graph) -> nearest glosses and the practice score.
// Everything it loads is served by serve.py from this machine (web/node_modules, /model.*, /index.json).
import * as ort from '/ort/ort.wasm.min.mjs';

ort.env.wasm.wasmPaths = '/ort/';
ort.env.wasm.numThreads = 1;  // no cross-origin isolation needed; one clip runs in milliseconds

const NEAREST_SHOWN = 5;
const $ = (id) => document.getElementById(id);
const state = { model: null, index: null, session: null, holistic: null, results: null, recording: null,
  stopRequested: false, busy: false };
// What the page did last, for people reading the console and for the browser tests.
window.spoter = { ready: false, result: null, error: null };

function showMessage(text) {
  $('message').textContent = text || '';
  $('message').hidden = !text;
  window.spoter.error = text || null;
}

function setStatus(text) { $('status').textContent = text; }

async function fetchJSON(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
  return response.json();
}

// ---- landmarks -> the model's input layout (the sidecar's mapping; no copy of the layout here) ----

function partPoints(landmarks, count) {
  const points = [];
  for (let i = 0; i < count; i++) {
    const p = landmarks ? landmarks[i] : null;
    points.push(p ? [p[0], p[1]] : [NaN, NaN]);
  }
  return points;
}

// frames: [{pose, left_hand, right_hand}], each a list of [x, y] or null when not detected.
function toLayout(frames, model) {
  const indices = model.mediapipe_holistic_indices;
  const [shoulderA, shoulderB] = model.mediapipe_neck_midpoint_of;
  const counts = model.mediapipe_holistic_points;
  const points = indices.length;
  const out = new Float32Array(frames.length * points * 2);
  frames.forEach((frame, t) => {
    const holistic = [...partPoints(frame.pose, counts.pose), ...partPoints(frame.left_hand, counts.left_hand),
      ...partPoints(frame.right_hand, counts.right_hand)];
    const base = t * points * 2;
    indices.forEach((source, k) => {
      if (source >= 0) { out[base + 2 * k] = holistic[source][0]; out[base + 2 * k + 1] = holistic[source][1]; }
    });
    indices.forEach((source, k) => {
      if (source >= 0) return;
      for (let axis = 0; axis < 2; axis++) {
        out[base + 2 * k + axis] = (out[base + 2 * shoulderA + axis] + out[base + 2 * shoulderB + axis]) / 2;
      }
    });
  });
  return out;
}

async function embed(keypoints, frames) {
  const points = state.model.keypoint_names.length;
  const feeds = {
    [state.model.inputs[0].name]: new ort.Tensor('float32', keypoints, [1, frames, points, 2]),
    [state.model.inputs[1].name]: new ort.Tensor('bool', new Uint8Array(frames), [1, frames]),
  };
  const outputs = await state.session.run(feeds);
  return Array.from(outputs[state.model.outputs[0].name].data);
}

// ---- search and practice score (as search.py: Euclidean distance, glosses by their nearest clip) ----

function distance(a, b) {
  let sum = 0;
  for (let i = 0; i < a.length; i++) { const d = a[i] - b[i]; sum += d * d; }
  return Math.sqrt(sum);
}

function nearestByGloss(embedding, index) {
  const best = new Map();
  index.embeddings.forEach((vector, i) => {
    const d = distance(embedding, vector);
    const gloss = index.labels[i];
    if (!best.has(gloss) || d < best.get(gloss).distance) best.set(gloss, { gloss, distance: d, clip_id: index.clip_ids[i] });
  });
  return [...best.values()].sort((a, b) => a.distance - b.distance);
}

// numpy.interp(x, xp, fp) for increasing xp: fp[0] left of xp, fp[-1] right of it, linear in between.
function interp(x, xp, fp) {
  const n = xp.length;
  if (x < xp[0]) return fp[0];
  if (x >= xp[n - 1]) return fp[n - 1];
  let low = 0, high = n - 1;  // largest j with xp[j] <= x
  while (high - low > 1) { const mid = (low + high) >> 1; if (xp[mid] <= x) low = mid; else high = mid; }
  if (xp[low] === x) return fp[low];
  return fp[low] + (fp[low + 1] - fp[low]) * (x - xp[low]) / (xp[low + 1] - xp[low]);
}

// 100 * (1 - the share of the index's calibration distances below d): its nearest clip of the gloss.
function practiceScore(ranked, gloss, quantiles) {
  const match = ranked.find((entry) => entry.gloss === gloss);
  const levels = quantiles.map((_, i) => i / (quantiles.length - 1));
  return { gloss, distance: match.distance, clip_id: match.clip_id,
    score: 100 * (1 - interp(match.distance, quantiles, levels)) };
}

// ---- MediaPipe Holistic on frames ----

// The WebGL renderer when it is a software one (no GPU: SwiftShader, llvmpipe), else null.
function softwareRenderer() {
  const gl = document.createElement('canvas').getContext('webgl2');
  if (!gl) return null;
  const info = gl.getExtension('WEBGL_debug_renderer_info');
  const renderer = String(gl.getParameter(info ? info.UNMASKED_RENDERER_WEBGL : gl.RENDERER));
  return /swiftshader|llvmpipe|softpipe|software/i.test(renderer) ? renderer : null;
}

// MediaPipe's models on the GPU (WebGL) where there is one; on the CPU (wasm, as Python's mediapipe runs them)
// where WebGL is emulated in software: there the GPU path is over ten times slower. ?inference=cpu|gpu forces one.
function inferenceBackend(requested) {
  if (requested === 'cpu' || requested === 'gpu') return { on: requested, why: 'as requested' };
  const software = softwareRenderer();
  return software ? { on: 'cpu', why: `WebGL is software-rendered: ${software}` } : { on: 'gpu', why: 'WebGL' };
}

function landmarkList(list) { return list ? list.map((p) => [p.x, p.y]) : null; }

async function landmarksOf(image) {
  await state.holistic.send({ image });
  const r = state.results;
  return { pose: landmarkList(r.poseLandmarks), left_hand: landmarkList(r.leftHandLandmarks),
    right_hand: landmarkList(r.rightHandLandmarks) };
}

// The frame itself (kept when the camera stops) and its landmarks over it.
function draw(frame, width, height, image) {
  const canvas = $('overlay');
  canvas.width = width; canvas.height = height;
  const context = canvas.getContext('2d');
  context.clearRect(0, 0, width, height);
  if (image) context.drawImage(image, 0, 0, width, height);
  const dot = (points, colour, radius) => {
    if (!points) return;
    context.fillStyle = colour;
    for (const [x, y] of points) { context.beginPath(); context.arc(x * width, y * height, radius, 0, 2 * Math.PI); context.fill(); }
  };
  const bones = (points, colour) => {
    if (!points || !window.HAND_CONNECTIONS) return;
    context.strokeStyle = colour; context.lineWidth = Math.max(1, width / 320);
    for (const [a, b] of window.HAND_CONNECTIONS) {
      context.beginPath(); context.moveTo(points[a][0] * width, points[a][1] * height);
      context.lineTo(points[b][0] * width, points[b][1] * height); context.stroke();
    }
  };
  const radius = Math.max(2, width / 200);
  dot(frame.pose ? frame.pose.slice(0, 23) : null, '#f6e05e', radius);
  bones(frame.left_hand, '#68d391'); dot(frame.left_hand, '#38a169', radius);
  bones(frame.right_hand, '#63b3ed'); dot(frame.right_hand, '#3182ce', radius);
}

function newRecording(source) {
  return { source, frames: [], frameMs: [], frameTimesMs: [], skippedFrames: 0, width: 0, height: 0 };
}

// MediaPipe on one frame (a <video> showing it, or an ImageBitmap of it) taken at timeMs of the recording;
// frameMs is MediaPipe's time alone.
async function recordFrame(image, width, height, timeMs, recording) {
  recording.frameTimesMs.push(timeMs);
  const started = performance.now();
  const frame = await landmarksOf(image);
  recording.frameMs.push(performance.now() - started);
  recording.frames.push(frame);
  recording.width = width; recording.height = height;
  draw(frame, width, height, image);
}

// RGBA camera frames held for MediaPipe at most (about 200 at 640x480): beyond it frames are skipped, not held.
const QUEUE_BYTES = 256 * 1024 * 1024;
// Frames Chromium's track processor holds until the worker reads them (it reads each within milliseconds).
const PROCESSOR_BUFFER = 30;

// Captured camera frames waiting for MediaPipe, oldest first, so that none is lost while it works on one.
class FrameQueue {
  constructor() { this.frames = []; this.bytes = 0; this.ended = false; this.wake = null; }
  fits(bitmap) { return this.bytes + 4 * bitmap.width * bitmap.height <= QUEUE_BYTES; }
  push(frame) { this.frames.push(frame); this.bytes += 4 * frame.bitmap.width * frame.bitmap.height; this.notify(); }
  end() { this.ended = true; this.notify(); }
  discard() { this.frames.splice(0).forEach((frame) => frame.bitmap.close()); this.bytes = 0; }
  notify() { if (this.wake) { this.wake(); this.wake = null; } }
  get length() { return this.frames.length; }
  // The next {bitmap, timeMs}, once there is one; null when the recording ended and every frame was taken.
  async next() {
    while (!this.frames.length && !this.ended) await new Promise((resolve) => { this.wake = resolve; });
    const frame = this.frames.shift() || null;
    if (frame) this.bytes -= 4 * frame.bitmap.width * frame.bitmap.height;
    return frame;
  }
}

// Chromium: the track's frames are read by a worker (capture.js), which this thread's MediaPipe work cannot delay.
function captureInWorker(track, onFrame, onEnd) {
  const processor = new MediaStreamTrackProcessor({ track, maxBufferSize: PROCESSOR_BUFFER });
  const worker = new Worker('/capture.js');
  worker.onmessage = ({ data }) => (data.ended ? onEnd() : onFrame(data.bitmap, data.timestampMs, 0));
  worker.onerror = (event) => { console.error(`capture.js: ${event.message}`); onEnd(); };  // keep what was captured
  worker.postMessage({ frames: processor.readable }, [processor.readable]);
  return () => worker.terminate();
}

// Browsers without a track processor: each frame the <video> presents, copied when this thread is free; frames
// presented while MediaPipe holds it are missed, and counted (the gap in presentedFrames).
function captureOnPresent(video, onFrame) {
  let stopped = false, lastPresented = null;
  const step = async (now, metadata) => {
    if (stopped) return;
    const missed = lastPresented === null ? 0 : Math.max(0, metadata.presentedFrames - lastPresented - 1);
    lastPresented = metadata.presentedFrames;
    video.requestVideoFrameCallback(step);
    const bitmap = await createImageBitmap(video);
    if (stopped) bitmap.close(); else onFrame(bitmap, now, missed);
  };
  video.requestVideoFrameCallback(step);
  return () => { stopped = true; };
}

// Every camera frame of the recording (its first maxFrames, or its first `seconds` by the frames' own times,
// or until Stop) is captured into a queue as it arrives; MediaPipe takes them in order, however far it lags.
// skippedFrames counts frames genuinely not captured (missed by the fallback capture, or over QUEUE_BYTES).
async function recordCamera(video, track, recording, maxFrames, seconds) {
  const queue = new FrameQueue();
  let firstMs = null, captured = 0, stop = null;
  const finish = () => { if (!queue.ended) { stop(); queue.end(); } };
  const onFrame = (bitmap, timeMs, missed) => {
    if (queue.ended) { bitmap.close(); return; }
    if (firstMs === null) firstMs = timeMs;
    if (state.stopRequested || (!maxFrames && timeMs - firstMs >= seconds * 1000)) { bitmap.close(); finish(); return; }
    recording.skippedFrames += missed;
    if (!queue.fits(bitmap)) { bitmap.close(); recording.skippedFrames += 1; return; }
    queue.push({ bitmap, timeMs: timeMs - firstMs });
    captured += 1;
    if (maxFrames && captured >= maxFrames) finish();
  };
  stop = 'MediaStreamTrackProcessor' in window ? captureInWorker(track, onFrame, () => finish())
    : captureOnPresent(video, onFrame);
  track.addEventListener('ended', finish);  // the camera was unplugged or taken away
  state.holistic.reset();  // after the capture started: it takes time, and the camera is already delivering
  try {
    await video.play();  // the preview (and captureOnPresent's frames): capture started first, from the first frame
    for (let frame; (frame = await queue.next());) {
      const { bitmap, timeMs } = frame;
      try { await recordFrame(bitmap, bitmap.width, bitmap.height, timeMs, recording); } finally { bitmap.close(); }
      $('progress').textContent = queue.ended ? `${recording.frames.length} of ${captured} frames`
        : `${recording.frames.length} frames, ${queue.length} waiting`;
    }
  } finally {
    finish();
    queue.discard();
  }
}

// Every frame of a video file: the video pauses on each new frame while MediaPipe reads it.
function recordVideo(video, recording) {
  return new Promise((resolve, reject) => {
    video.onended = () => resolve();
    video.onerror = () => reject(new Error('decode'));
    const step = async (now, metadata) => {
      video.pause();
      await recordFrame(video, video.videoWidth, video.videoHeight, 1000 * metadata.mediaTime, recording);
      $('progress').textContent = `${recording.frames.length} frames`;
      if (state.stopRequested || video.ended) { resolve(); return; }
      video.requestVideoFrameCallback(step);
      video.play().catch(() => resolve());
    };
    video.requestVideoFrameCallback(step);
    video.play().catch(() => reject(new Error('decode')));
  });
}

// ---- from a recording to the result ----

function chosenGloss() {
  const practice = document.querySelector('input[name="mode"]:checked').value === 'practice';
  return practice ? $('gloss').value.trim() : null;
}

function checkGloss(gloss) {
  if (gloss === null) return true;
  if (!gloss) { showMessage('Practice mode: type or choose the gloss you want to practise.'); return false; }
  if (!state.index.labels.includes(gloss)) {
    showMessage(`The index has no clip of the gloss "${gloss}": choose one of ${[...new Set(state.index.labels)].sort().join(', ')}.`);
    return false;
  }
  return true;
}

function row(cells, className) {
  const tr = document.createElement('tr');
  if (className) tr.className = className;
  for (const [text, numeric] of cells) {
    const td = document.createElement('td'); td.textContent = text; if (numeric) td.className = 'number'; tr.appendChild(td);
  }
  return tr;
}

function showResult(result) {
  const body = $('nearest').querySelector('tbody');
  body.replaceChildren(...result.nearest.slice(0, NEAREST_SHOWN).map((entry, i) =>
    row([[String(i + 1), true], [entry.gloss], [entry.distance.toFixed(3), true], [entry.clip_id]], i === 0 ? 'first' : '')));
  $('nearest').hidden = false;
  const practice = $('practice');
  practice.hidden = !result.practice;
  if (result.practice) {
    practice.textContent = `"${result.practice.gloss}": score ${result.practice.score.toFixed(0)} / 100 ` +
      `(distance ${result.practice.distance.toFixed(3)} to ${result.practice.clip_id})`;
  }
  const t = result.timings;
  const lines = [
    result.from_file ? ['landmarks', 'read from the file', '']
      : ['landmarks (MediaPipe Holistic)', `${t.landmarks_ms.toFixed(0)} ms`, `${(t.landmarks_ms / Math.max(1, result.frames)).toFixed(1)} ms/frame`],
    ['layout mapping', `${t.mapping_ms.toFixed(2)} ms`, ''],
    ['embedding (onnxruntime-web)', `${t.embedding_ms.toFixed(1)} ms`, `${result.frames} frames`],
    ['search + score', `${t.search_ms.toFixed(2)} ms`, `${state.index.labels.length} index clips`],
  ];
  $('timings').querySelector('tbody').replaceChildren(...lines.map(([a, b, c]) => row([[a], [b, true], [c, true]])));
  setStatus(`${result.source}: ${result.frames} frames, hands in ${result.hand_frames}` +
    (result.skipped_frames ? ` (${result.skipped_frames} camera frames skipped: not captured)` : ''));
}

async function analyse(recording) {
  const gloss = chosenGloss();
  const frames = recording.frames;
  if (!frames.length) { showMessage(`${recording.source}: no frame could be read.`); return; }
  const handFrames = frames.filter((f) => f.left_hand || f.right_hand).length;
  if (!handFrames) {
    showMessage(`${recording.source}: no hands detected in any of its ${frames.length} frames. ` +
      'Sign with your hands inside the picture, in good light.');
    return;
  }
  if (!checkGloss(gloss)) return;
  let started = performance.now();
  const keypoints = toLayout(frames, state.model);
  const mappingMs = performance.now() - started;
  started = performance.now();
  const embedding = await embed(keypoints, frames.length);
  const embeddingMs = performance.now() - started;
  started = performance.now();
  const nearest = nearestByGloss(embedding, state.index);
  const practice = gloss === null ? null : practiceScore(nearest, gloss, state.index.score_quantiles);
  const searchMs = performance.now() - started;
  const result = { source: recording.source, from_file: Boolean(recording.fromFile), frames: frames.length, hand_frames: handFrames,
    skipped_frames: recording.skippedFrames, frame_times_ms: recording.frameTimesMs, embedding, nearest, practice,
    timings: { landmarks_ms: recording.frameMs.reduce((a, b) => a + b, 0), landmarks_frame_ms: recording.frameMs, mapping_ms: mappingMs, embedding_ms: embeddingMs, search_ms: searchMs } };
  showMessage('');
  showResult(result);
  window.spoter.frames = frames;
  window.spoter.result = result;
}

function cameraMessage(error) {
  if (error.name === 'NotAllowedError' || error.name === 'SecurityError') {
    return 'Camera access was refused: allow the camera for this page in the browser (the icon in the address bar), then press "Start camera" again. Or open a video file.';
  }
  if (error.name === 'NotFoundError' || error.name === 'OverconstrainedError') return 'No camera was found on this device: open a video file instead.';
  if (error.name === 'NotReadableError') return 'The camera is in use by another program: close it and try again.';
  return `The camera could not be started (${error.name}: ${error.message}).`;
}

async function run(task) {
  if (state.busy) return;
  state.busy = true; state.stopRequested = false; window.spoter.result = null; window.spoter.frames = null;
  for (const id of ['camera', 'video-file', 'landmark-file', 'save']) $(id).disabled = true;
  try { await task(); } catch (error) { showMessage(`Unexpected error: ${error.message}`); console.error(error); }
  state.busy = false;
  for (const id of ['camera', 'video-file', 'landmark-file']) $(id).disabled = false;
  $('save').disabled = !state.recording || !state.recording.frames.length;
  $('stop').disabled = true;
  window.spoter.done = (window.spoter.done || 0) + 1;
}

async function fromCamera(maxFrames) {
  const video = $('video');
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (error) { showMessage(cameraMessage(error)); return; }
  showMessage('');
  video.srcObject = stream;
  try {
    $('stop').disabled = false;
    setStatus('Recording: sign now.');
    const recording = state.recording = newRecording('camera');
    await recordCamera(video, stream.getVideoTracks()[0], recording, maxFrames, Number($('seconds').value) || 3);
  } finally {
    stream.getTracks().forEach((track) => track.stop());
    video.srcObject = null;
  }
  await analyse(state.recording);
}

async function fromVideoFile(file) {
  const video = $('video');
  video.srcObject = null;
  const url = URL.createObjectURL(file);
  video.src = url;
  state.holistic.reset();
  const recording = state.recording = newRecording(file.name);
  try {
    await new Promise((resolve, reject) => {
      video.onloadeddata = resolve;
      video.onerror = () => reject(new Error('decode'));
    });
    setStatus(`Reading ${file.name} frame by frame...`);
    $('stop').disabled = false;
    await recordVideo(video, recording);
  } catch (error) {
    if (error.message !== 'decode') throw error;
    showMessage(`${file.name}: this video cannot be decoded by the browser; try an MP4 (H.264) or WebM file.`);
    return;
  } finally {
    video.removeAttribute('src'); video.load(); URL.revokeObjectURL(url);
  }
  await analyse(recording);
}

function checkLandmarkFile(document, name) {
  const parts = Object.entries(state.model.mediapipe_holistic_points);
  if (typeof document !== 'object' || document === null) throw new Error('expected a JSON object');
  const frames = document[parts[0][0]];
  if (!Array.isArray(frames) || !frames.length) throw new Error(`"${parts[0][0]}" must be a non-empty list of frames`);
  for (const [part, count] of parts) {
    const list = document[part];
    if (!Array.isArray(list) || list.length !== frames.length) throw new Error(`"${part}" must list ${frames.length} frames`);
    list.forEach((points, t) => {
      if (points !== null && !(Array.isArray(points) && points.length === count && points.every((p) => Array.isArray(p) && p.length >= 2))) {
        throw new Error(`"${part}" frame ${t}: expected null or ${count} [x, y] points`);
      }
    });
  }
  return frames.map((_, t) => Object.fromEntries(parts.map(([part]) => [part, document[part][t] && document[part][t].map(
    (p) => [p[0] === null ? NaN : p[0], p[1] === null ? NaN : p[1]])])));
}

async function fromLandmarkFile(file) {
  let frames;
  try { frames = checkLandmarkFile(JSON.parse(await file.text()), file.name); } catch (error) {
    showMessage(`${file.name}: not a landmark file (${error.message}). Expected JSON {"pose": [...], "left_hand": [...], "right_hand": [...]}, one entry per frame.`);
    return;
  }
  const recording = state.recording = newRecording(file.name);
  recording.frames = frames;
  recording.fromFile = true;
  const last = frames[frames.length - 1];
  draw(last, $('overlay').clientWidth || 640, $('overlay').clientHeight || 480);
  await analyse(recording);
}

function saveLandmarks() {
  const recording = state.recording;
  const parts = Object.keys(state.model.mediapipe_holistic_points);
  const document = { width: recording.width, height: recording.height,
    ...Object.fromEntries(parts.map((part) => [part, recording.frames.map((f) => f[part])])) };
  const link = Object.assign(window.document.createElement('a'), {
    href: URL.createObjectURL(new Blob([JSON.stringify(document)], { type: 'application/json' })), download: 'landmarks.json' });
  link.click();
}

async function init() {
  const started = performance.now();
  [state.model, state.index] = await Promise.all([fetchJSON('/model.json'), fetchJSON('/index.json')]);
  state.session = await ort.InferenceSession.create('/model.onnx', { executionProviders: ['wasm'] });
  state.holistic = new window.Holistic({ locateFile: (file) => `/mediapipe/${file}` });
  const params = new URLSearchParams(location.search);
  state.inference = inferenceBackend(params.get('inference'));
  window.spoter.inference = state.inference.on;
  // As preprocess.py extract runs it (mediapipe's defaults, model complexity 1).
  state.holistic.setOptions({ useCpuInference: state.inference.on === 'cpu', modelComplexity: 1,
    smoothLandmarks: true, minDetectionConfidence: 0.5, minTrackingConfidence: 0.5 });
  state.holistic.onResults((results) => { state.results = results; });
  await state.holistic.initialize();
  const glosses = [...new Set(state.index.labels)].sort();
  $('glosses').replaceChildren(...glosses.map((gloss) => Object.assign(document.createElement('option'), { value: gloss })));
  $('about').textContent = `Model ${state.model.checkpoint} (sha256 ${state.model.checkpoint_sha256.slice(0, 12)}..., ` +
    `${state.model.vector_length}-d embeddings); index of ${state.index.labels.length} clips, ${glosses.length} glosses; ` +
    `MediaPipe inference on the ${state.inference.on.toUpperCase()} (${state.inference.why}). ` +
    `Loaded in ${((performance.now() - started) / 1000).toFixed(1)} s.`;
  $('camera').onclick = () => run(() => fromCamera(0));
  $('stop').onclick = () => { state.stopRequested = true; };
  $('video-file').onchange = (event) => { const file = event.target.files[0]; event.target.value = ''; if (file) run(() => fromVideoFile(file)); };
  $('landmark-file').onchange = (event) => { const file = event.target.files[0]; event.target.value = ''; if (file) run(() => fromLandmarkFile(file)); };
  $('save').onclick = saveLandmarks;
  for (const id of ['camera', 'video-file', 'landmark-file']) $(id).disabled = false;
  setStatus('Ready: start the camera, or open a video or landmark file.');
  window.spoter.ready = true;
  // Automation (and links that start at once): ?mode=practice&gloss=book&camera=FRAMES
  if (params.get('gloss')) $('gloss').value = params.get('gloss');
  if (params.get('mode') === 'practice') document.querySelector('input[value="practice"]').checked = true;
  if (params.get('camera')) run(() => fromCamera(Number(params.get('camera'))));
}

window.spoter.recordCamera = (frames) => run(() => fromCamera(frames));
init().catch((error) => {
  showMessage(`The page could not start: ${error.message}. Is serve.py running, and was \`npm ci\` run in web/?`);
  console.error(error);
});
