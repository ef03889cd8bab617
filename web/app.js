// The page: MediaPipe Holistic landmarks -> the sidecar's 54-point layout -> the exported model
// (onnxruntime-web; normalization is inside the graph) -> nearest glosses, the practice score and what to fix.
// Everything it loads is served by serve.py from this machine (web/node_modules, /model.*, /index.json,
// /references.json, the page's own modules).
import * as ort from '/ort/ort.wasm.min.mjs';
import { CLOSE_BAND, align, partFeedback } from '/feedback.js';
import { GlossList, fold, glossCounts } from '/glosses.js';
import { allScores, keepScore, pastScores, progressLine } from '/progress.js';
import { Loop, playClips, playSideBySide } from '/replay.js';
import { drawSkeleton, fittedView, imageView, pointParts } from '/skeleton.js';

ort.env.wasm.wasmPaths = '/ort/';
ort.env.wasm.numThreads = 1;  // no cross-origin isolation needed; one clip runs in milliseconds

const NEAREST_SHOWN = 5;
// Levels (percent) of the index's score_quantiles past which the nearest gloss is not trusted: mirrors
// retrieval/confidence.py (UNCERTAIN_LEVEL, UNKNOWN_LEVEL), whose doc says what they mean and what they are worth.
const UNCERTAIN_LEVEL = 10;
const UNKNOWN_LEVEL = 50;
// search.py's verdict names (retrieval/confidence.py VERDICT_TEXT), as the page says them.
const VERDICT_TEXT = { match: 'match', uncertain: 'uncertain', unknown: 'no sign I know' };
// Python's mediapipe stamps the frames it is given 33.333 ms apart, whatever the video's rate
// (solution_base.py); a video file's frames are stamped the same way here (see sendStamped).
const PYTHON_FRAME_MS = 33.333;
const $ = (id) => document.getElementById(id);
// Fewer frames than this cannot show a sign (one takes about a second, 25-30 frames): the page says the clip
// is too short rather than score a twitch.
const MIN_FRAMES = 5;
// Seconds counted down after "Start camera", the learner seeing themselves, before the recording starts.
const COUNTDOWN_S = 3;
// The references carry no picture size: their x (a share of the width) is drawn as if the picture were 4:3,
// the shape of most webcams and of the WLASL recordings.
const REFERENCE_ASPECT = 4 / 3;
// The frame rate of a landmark file that gives none (as retrieval/references.py DEFAULT_FPS: webcams' rate).
const DEFAULT_FPS = 30;
const state = { model: null, index: null, references: null, session: null, holistic: null, results: null,
  recording: null, stopRequested: false, busy: false, glosses: [], parts: [], list: null, chosen: null,
  attempt: null, referenceLoop: null, replayLoop: null };
// What the page did last, for people reading the console and for the browser tests.
window.spoter = { ready: false, result: null, error: null, mediapipeFrames: 0 };

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

// The model's input (toLayout) as [frames][points] of [x, y], null where a point was not detected: the form
// of the references, of feedback.js and of the skeleton drawing.
function layoutFrames(keypoints, frames) {
  const points = keypoints.length / frames / 2;
  return Array.from({ length: frames }, (_, t) => Array.from({ length: points }, (_, k) => {
    const x = keypoints[2 * (t * points + k)], y = keypoints[2 * (t * points + k) + 1];
    return Number.isNaN(x) || Number.isNaN(y) ? null : [x, y];
  }));
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
    if (!best.has(gloss) || d < best.get(gloss).distance) {
      best.set(gloss, { gloss, distance: d, clip_id: index.clip_ids[i], clip: clipName(index, i) });
    }
  });
  return [...best.values()].sort((a, b) => a.distance - b.distance);
}

// The last part of a path-like name: clip ids and signers often hold the repository path they came from.
function lastPart(text) { return String(text).split(/[/\\:]/).filter(Boolean).pop() || String(text); }

function fileStem(clipId) {
  const name = lastPart(clipId);
  const dot = name.lastIndexOf('.');
  return dot > 0 ? name.slice(0, dot) : name;
}

// An index clip as a learner reads it: its gloss, its signer when the index knows them, and its file's stem
// ("hello by Jupyter, clip 0"), not the repository path of its id (the page keeps that as a tooltip).
function clipName(index, i) {
  const signer = index.signers ? lastPart(index.signers[i]) : '';
  return `${index.labels[i]}${signer ? ` by ${signer}` : ''}, clip ${fileStem(index.clip_ids[i])}`;
}

// "match", "uncertain" or "unknown" for a nearest gloss `d` away, as retrieval/confidence.py match_verdict.
function matchVerdict(d, quantiles) {
  if (!(d < quantiles[UNKNOWN_LEVEL])) return 'unknown';
  return d >= quantiles[UNCERTAIN_LEVEL] ? 'uncertain' : 'match';
}

function verdictSentence(nearest, verdict, quantiles) {
  const what = `the nearest gloss, "${nearest.gloss}", lies ${nearest.distance.toFixed(3)} away`;
  if (verdict === 'match') {
    return `Match: ${what}, closer than 90% of the index's clips lie to a different sign ` +
      `(${quantiles[UNCERTAIN_LEVEL].toFixed(3)}).`;
  }
  if (verdict === 'uncertain') {
    return `Uncertain: ${what}, farther than the closest 10% of different signs in the index lie apart ` +
      `(${quantiles[UNCERTAIN_LEVEL].toFixed(3)}): it may be another sign.`;
  }
  return `No sign I know: ${what}, as far as half the index's clips lie from a different sign ` +
    `(${quantiles[UNKNOWN_LEVEL].toFixed(3)} or more): the index probably does not hold this sign.`;
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
  return { gloss, distance: match.distance, clip_id: match.clip_id, clip: match.clip,
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

// Whether this @mediapipe/holistic build lets a frame's timestamp be given (see sendStamped).
function takesTimestamps(holistic) {
  return Boolean(holistic.h && typeof holistic.h.send === 'function' && holistic.h.send.length >= 2);
}

// MediaPipe smooths landmarks over the frames' timestamps, and the solution API stamps each frame with
// performance.now(): a file's landmarks would then depend on how fast this machine ran. The solution object
// inside it (the build pinned by web/package-lock.json) takes the timestamp, in ms, as send's second argument.
function sendStamped(image, stampMs) {
  return state.holistic.h.send({ image }, stampMs);
}

// MediaPipe on one image; stamped at stampMs when given (video files), else at the time it is sent (camera).
async function landmarksOf(image, stampMs) {
  await (stampMs === undefined ? state.holistic.send({ image }) : sendStamped(image, stampMs));
  const r = state.results;
  return { pose: landmarkList(r.poseLandmarks), left_hand: landmarkList(r.leftHandLandmarks),
    right_hand: landmarkList(r.rightHandLandmarks) };
}

// The frame itself (kept when the camera stops) and the skeleton MediaPipe found in it, drawn over it as the
// reference and the replay are drawn.
function drawLive(frame, width, height, image) {
  const canvas = $('overlay');
  canvas.width = width; canvas.height = height;
  const context = canvas.getContext('2d');
  context.clearRect(0, 0, width, height);
  if (image instanceof ImageData) context.putImageData(image, 0, 0);  // a video file's frame, at its own size
  else if (image) context.drawImage(image, 0, 0, width, height);
  const [points] = layoutFrames(toLayout([frame], state.model), 1);
  drawSkeleton(context, points, { bones: state.model.bones || [], parts: state.parts,
    view: imageView(width, height), size: width });
}

function newRecording(source) {
  return { source, frames: [], frameMs: [], frameTimesMs: [], skippedFrames: 0, width: 0, height: 0, video: null,
    endedMs: null };
}

// MediaPipe on one frame (a <video> showing it, or an ImageBitmap of it) taken at timeMs of the recording;
// frameMs is MediaPipe's time alone. stampMs: the timestamp MediaPipe gets (see landmarksOf).
async function recordFrame(image, width, height, timeMs, recording, stampMs) {
  recording.frameTimesMs.push(timeMs);
  const started = performance.now();
  const frame = await landmarksOf(image, stampMs);
  window.spoter.mediapipeFrames += 1;
  recording.frameMs.push(performance.now() - started);
  recording.frames.push(frame);
  recording.width = width; recording.height = height;
  drawLive(frame, width, height, image);
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
  let firstMs = null, captured = 0, stop = null, pageClockMs = 0;
  // endedMs: when the recording ended on the page's clock (performance.now), for "end of recording to
  // feedback". Frames reach this thread only between MediaPipe's frames, so the time one is handled here says
  // little: the camera's own time of the frame that ends it is used, moved onto the page's clock by the
  // offset seen at the first frame (handled at once: MediaPipe is not yet busy then).
  const finish = (endedMs) => {
    if (queue.ended) return;
    stop(); queue.end();
    recording.endedMs = Math.min(endedMs === undefined ? performance.now() : endedMs, performance.now());
  };
  const onFrame = (bitmap, timeMs, missed) => {
    if (queue.ended) { bitmap.close(); return; }
    if (firstMs === null) { firstMs = timeMs; pageClockMs = performance.now() - timeMs; }
    if (state.stopRequested) { bitmap.close(); finish(state.stopRequestedMs); return; }
    if (!maxFrames && timeMs - firstMs >= seconds * 1000) { bitmap.close(); finish(timeMs + pageClockMs); return; }
    recording.skippedFrames += missed;
    if (!queue.fits(bitmap)) { bitmap.close(); recording.skippedFrames += 1; return; }
    queue.push({ bitmap, timeMs: timeMs - firstMs });
    captured += 1;
    if (maxFrames && captured >= maxFrames) finish(timeMs + pageClockMs);
  };
  stop = 'MediaStreamTrackProcessor' in window ? captureInWorker(track, onFrame, () => finish())
    : captureOnPresent(video, onFrame);
  track.addEventListener('ended', () => finish());  // the camera was unplugged or taken away
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

// ---- a video file, every frame of it ----

// A seek that never completes (a stalled decoder) ends the reading there rather than holding the page.
const SEEK_TIMEOUT_MS = 30000;
// A seek this far (µs) past a frame's end lands inside the next frame however the time is rounded to µs.
const NEXT_FRAME_NUDGE_US = 100;
// The first look past a frame whose duration the browser does not give (µs); the search corrects it.
const FALLBACK_FRAME_US = 33333;

// Move the paused video to `seconds` and wait until the frame shown there is decoded ('seeked').
function seekTo(video, seconds) {
  return new Promise((resolve, reject) => {
    const finish = (error) => {
      clearTimeout(timer);
      video.removeEventListener('seeked', onSeeked);
      video.removeEventListener('error', onError);
      if (error) reject(error); else resolve();
    };
    const onSeeked = () => finish();
    const onError = () => finish(new Error('decode'));
    const timer = setTimeout(() => finish(new Error('seek timeout')), SEEK_TIMEOUT_MS);
    video.addEventListener('seeked', onSeeked);
    video.addEventListener('error', onError);
    video.currentTime = seconds;
  });
}

// The time and duration (µs) that the file gives the frame the paused video shows.
function shownTiming(video) {
  let frame;
  try { frame = new VideoFrame(video); } catch (error) { throw new Error('decode'); }  // no frame to show
  try { return { timestampUs: frame.timestamp, durationUs: frame.duration || 0 }; } finally { frame.close(); }
}

async function timingAt(video, us) {
  await seekTo(video, us / 1e6);
  return shownTiming(video);
}

// The frame the paused video shows, as RGBA pixels for MediaPipe, converted from the decoded frame by
// VideoFrame.copyTo on the CPU: a bitmap of it may be drawn on the GPU or the CPU as the browser sees fit, and
// the same file's landmarks then differed by 1e-7 between runs. Browsers whose copyTo cannot convert get a bitmap.
async function shownImage(video) {
  const frame = new VideoFrame(video);
  try {
    const { width, height } = frame.visibleRect;
    const options = { format: 'RGBA' };
    if (frame.allocationSize(options) !== width * height * 4) {
      return { image: await createImageBitmap(frame), timestampUs: frame.timestamp };
    }
    const pixels = new Uint8ClampedArray(width * height * 4);
    await frame.copyTo(pixels, options);
    return { image: new ImageData(pixels, width, height), timestampUs: frame.timestamp };
  } finally { frame.close(); }
}

// The image of the frame `timing` names. The video shows it already; should the browser have moved on
// meanwhile, it is sought once more, and a frame that still does not show is a read error.
async function imageOf(video, timing) {
  let shown = await shownImage(video);
  if (shown.timestampUs !== timing.timestampUs) {
    if (shown.image.close) shown.image.close();
    await timingAt(video, timing.timestampUs + 1);
    shown = await shownImage(video);
    if (shown.timestampUs !== timing.timestampUs) throw new Error('decode');
  }
  return shown.image;
}

// The timing of the frame after `shown` in the file, now shown by the video; null after the last frame.
// A seek shows the last frame that starts at or before its time: look just past the end of `shown`, then
// twice as far each time nothing new shows; a frame found that does not start exactly where `shown` ends
// may have had others start before it, so look again just before it until none does. Each frame is thus
// found once, none skipped, whatever the frame rate (a variable one included).
async function frameAfter(video, shown, endUs) {
  let clear = shown.timestampUs;  // no frame starts after `shown` and at or before `clear`
  let step = (shown.durationUs || FALLBACK_FRAME_US) + NEXT_FRAME_NUDGE_US;
  let found;
  for (;;) {
    if (clear >= endUs) return null;
    const target = Math.min(clear + step, endUs);
    found = await timingAt(video, target);
    if (found.timestampUs > shown.timestampUs) break;
    clear = target;
    step *= 2;
  }
  if (found.timestampUs === shown.timestampUs + shown.durationUs) return found;
  let showing = found;
  while (found.timestampUs - 1 > clear) {
    showing = await timingAt(video, found.timestampUs - 1);
    if (showing.timestampUs <= shown.timestampUs) break;
    found = showing;
  }
  if (showing !== found) await timingAt(video, found.timestampUs + 1);  // back to `found`, for its image
  return found;
}

// The video's duration in µs. A file without one in its header (a browser's own WebM recording) reports
// Infinity until a seek past its end makes the browser find it.
async function durationUs(video) {
  if (!Number.isFinite(video.duration)) await seekTo(video, 1e9);
  if (!Number.isFinite(video.duration)) throw new Error('decode');
  return Math.round(video.duration * 1e6);
}

// Every frame of a video file, in order, each once (frameAfter), MediaPipe stamping frame k as Python's
// mediapipe does (k x 33.333 ms), so the same file gives the same landmarks on every run, as preprocess.py
// extract. Playing the file instead lost the frames presented while MediaPipe worked: a different number on
// each run. What could not be read (a decoding error part way, the stop button) is noted in recording.video.
async function recordVideo(video, recording) {
  const endUs = await durationUs(video);
  const read = recording.video = {
    durationS: endUs / 1e6, lastFrameS: 0, stoppedAtS: null, unreadFromS: null, unreadFrames: 0 };
  let timing = await timingAt(video, 0);
  let image = await imageOf(video, timing);  // nothing read yet: an error here is "cannot be decoded"
  for (;;) {
    try {
      await recordFrame(image, image.width, image.height, timing.timestampUs / 1000, recording,
        PYTHON_FRAME_MS * (recording.frames.length + 1));
    } finally { if (image.close) image.close(); }
    read.lastFrameS = timing.timestampUs / 1e6;
    $('progress').textContent =
      `${recording.frames.length} frames read (${read.lastFrameS.toFixed(2)} of ${read.durationS.toFixed(2)} s)`;
    if (state.stopRequested) { read.stoppedAtS = read.lastFrameS; return; }
    const shown = timing;
    const nextUs = shown.timestampUs + (shown.durationUs || FALLBACK_FRAME_US);
    timing = await unlessUnreadable(() => frameAfter(video, shown, endUs), read, shown, endUs, nextUs);
    if (!timing) return;
    image = await unlessUnreadable(() => imageOf(video, timing), read, timing, endUs, timing.timestampUs);
    if (!image) return;
  }
}

// What `step` (seeks, and what they show) returns; null when the file cannot be read there, noting in `read`
// that nothing was read from fromUs on (about how many frames of `timing`'s length).
async function unlessUnreadable(step, read, timing, endUs, fromUs) {
  try {
    return await step();
  } catch (error) {
    if (error.message !== 'decode' && error.message !== 'seek timeout') throw error;
    read.unreadFromS = fromUs / 1e6;
    read.unreadFrames = Math.max(1, Math.round((endUs - fromUs) / (timing.durationUs || FALLBACK_FRAME_US)));
    return null;
  }
}

// What the page says of a recording's frames: how many were read, and what could not be.
function framesNote(recording, handFrames) {
  const n = recording.frames.length;
  const hands = `hands in ${handFrames}`;
  const read = recording.video;
  if (!read) {
    const skipped = recording.skippedFrames ? ` (${recording.skippedFrames} camera frames skipped: not captured)` : '';
    return `${recording.source}: ${n} frames, ${hands}${skipped}`;
  }
  if (read.unreadFromS !== null) {
    return `${recording.source}: ${n} frames read; from ${read.unreadFromS.toFixed(2)} s to its end ` +
      `(${read.durationS.toFixed(2)} s) the file could not be read, about ${read.unreadFrames} frames; ${hands}`;
  }
  if (read.stoppedAtS !== null) {
    return `${recording.source}: ${n} frames read, stopped at ${read.stoppedAtS.toFixed(2)} s ` +
      `of ${read.durationS.toFixed(2)} s; ${hands}`;
  }
  return `${recording.source}: all ${n} frames of the file read, ${hands}`;
}

// ---- from a recording to the result ----

// search.py lists every gloss of an index up to this many when one is unknown; the page does the same.
const MAX_LISTED_GLOSSES = 60;

function glossWord(label) {
  const at = label.indexOf(': ');
  return at < 0 ? label : label.slice(at + 2);
}

// The index's glosses that a typed gloss names, as SignIndex.gloss_matches (retrieval/index.py): the gloss
// itself; else those equal to it regardless of case (people type "Hello" for "hello"); else the
// "LANGUAGE: gloss" labels of that gloss, exactly, then regardless of case.
function glossMatches(typed, glosses) {
  const words = glosses.map(glossWord);
  const tries = [[glosses, typed], [glosses.map(fold), fold(typed)], [words, typed], [words.map(fold), fold(typed)]];
  for (const [keys, wanted] of tries) {
    const found = glosses.filter((_, i) => keys[i] === wanted);
    if (found.length) return found;
  }
  return [];
}

function knownGlosses() {
  const glosses = state.glosses;
  return glosses.length <= MAX_LISTED_GLOSSES ? `choose one of ${glosses.join(', ')}`
    : `choose one of its ${glosses.length} glosses from the list under the box`;
}

// The input's gloss, checked before any slow work: {gloss: null} in search mode, {gloss: the index's label}
// in practice mode, null (with a message on the page) when the typed gloss names no gloss of the index or several.
function chosenGloss() {
  const practice = document.querySelector('input[name="mode"]:checked').value === 'practice';
  if (!practice) return { gloss: null };
  const typed = $('gloss').value.trim();
  if (!typed) { showMessage('Practice mode: type or choose the gloss you want to practise.'); return null; }
  const matches = glossMatches(typed, state.glosses);
  if (matches.length === 1) return { gloss: matches[0] };
  if (matches.length) {
    showMessage(`"${typed}" names ${matches.length} glosses of the index (${matches.join(', ')}): ` +
      'choose the one you mean.');
  } else {
    showMessage(`The index has no clip of the gloss "${typed}": ${knownGlosses()}.`);
  }
  return null;
}

function row(cells, className) {
  const tr = document.createElement('tr');
  if (className) tr.className = className;
  for (const [text, numeric] of cells) {
    const td = document.createElement('td'); td.textContent = text; if (numeric) td.className = 'number'; tr.appendChild(td);
  }
  return tr;
}

const READY = 'Ready: start the camera, or open a video or landmark file.';
const RESULT_PARTS = ['nearest', 'practice', 'verdict', 'feedback', 'replay-box'];

// A new input starts from a clean screen: nothing of the previous clip's result, message or picture stays.
function clearResult() {
  showMessage('');
  setStatus(READY);
  for (const id of RESULT_PARTS) $(id).hidden = true;
  $('nearest').querySelector('tbody').replaceChildren();
  $('feedback').replaceChildren();
  $('timings').querySelector('tbody').replaceChildren();
  $('progress').textContent = '';
  state.replayLoop.stop();
  state.attempt = null;
  const canvas = $('overlay');
  canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height);
}

// ---- the chosen sign: its reference clips, and the learner's past scores ----

function referencesOf(gloss) {
  return (state.references.glosses[gloss] || []).map((clip) => ({ ...clip, aspect: REFERENCE_ASPECT }));
}

// Why no reference of `gloss` can be shown ('' when one can).
function noReferenceReason(gloss) {
  if (!state.index.has_references) {
    return 'This index was made before reference clips were stored with it: no reference can be shown ' +
      '(rebuild it with `search.py index` to see the signs).';
  }
  return referencesOf(gloss).length ? '' : `The index holds no reference clip of "${gloss}".`;
}

function skeletonStyle() { return { bones: state.model.bones || [], parts: state.parts }; }

// Plays every reference clip of `gloss` in turn, looping, at its recorded speed, naming the clip shown.
function showReference(gloss) {
  $('reference-box').hidden = false;
  $('reference-title').textContent = `How "${gloss}" is signed`;
  const why = noReferenceReason(gloss);
  const caption = $('reference-caption');
  if (why) {
    state.referenceLoop.stop();
    const canvas = $('reference');
    canvas.getContext('2d').clearRect(0, 0, canvas.width, canvas.height);
    caption.textContent = why;
    return;
  }
  const clips = referencesOf(gloss);
  playClips(state.referenceLoop, clips, skeletonStyle(), (c) => {
    caption.textContent = `${clips[c].name} (${c + 1} of ${clips.length}), ${clips[c].frames.length} frames ` +
      `at ${clips[c].fps.toFixed(0)} a second`;
  });
  $('reference-pause').textContent = 'Pause';
}

function showProgress() {
  const scores = allScores();
  const practised = Object.keys(scores).filter((gloss) => pastScores(gloss).length).sort();
  const items = practised.map((gloss) => {
    const li = document.createElement('li');
    li.textContent = `${gloss}: ${progressLine(pastScores(gloss))}`;
    if (gloss === state.chosen) li.className = 'chosen';
    return li;
  });
  $('history').replaceChildren(...items);
  $('history-empty').hidden = items.length > 0;
  const best = Object.fromEntries(practised.map((gloss) => [gloss, Math.max(...pastScores(gloss).map((s) => s.score))]));
  state.list.mark(state.chosen, best);
}

// Choosing a sign: practice mode for it, its reference playing, its past scores marked.
function chooseGloss(gloss) {
  state.chosen = gloss;
  $('gloss').value = gloss;
  document.querySelector('input[value="practice"]').checked = true;
  showReference(gloss);
  showProgress();
  if (!state.busy) setStatus(`Practising "${gloss}": watch how it is signed, then start the camera or open a file.`);
}

// ---- the result ----

function nearestRow(entry, i) {
  const tr = row([[String(i + 1), true], [''], [entry.distance.toFixed(3), true], [entry.clip]], i === 0 ? 'first' : '');
  // The gloss is a button: a replay of the attempt beside that gloss's reference.
  const replay = Object.assign(document.createElement('button'), { type: 'button', className: 'link', textContent: entry.gloss });
  replay.setAttribute('aria-label', `${entry.gloss}: replay your attempt beside it`);
  replay.addEventListener('click', () => replayBeside(entry.gloss));
  tr.children[1].appendChild(replay);
  tr.lastChild.title = entry.clip_id;  // where the clip came from, for whoever needs it
  return tr;
}

// The reference of `gloss` nearest the attempt's embedding (the index's own distance), or null.
function nearestReference(gloss, embedding) {
  const rows = new Map(state.index.clip_ids.map((id, i) => [id, i]));
  const away = (clip) => (rows.has(clip.clip_id) ? distance(embedding, state.index.embeddings[rows.get(clip.clip_id)]) : Infinity);
  const clips = referencesOf(gloss);
  return clips.length ? clips.reduce((best, clip) => (away(clip) < away(best) ? clip : best)) : null;
}

// Points drawn red for a part of the feedback: its hand for a hand's shape, both hands and the body they are
// placed against for where the hands are, both hands for the movement.
function pointsOfPart(part) {
  const sides = /left/.test(part) ? ['left'] : /right/.test(part) ? ['right'] : ['left', 'right'];
  const withBody = /location|where|place/.test(part);
  return new Set(state.parts.flatMap((side, i) => (sides.includes(side) || (withBody && side === 'body') ? [i] : [])));
}

// Path steps to highlight: those whose attempt frame is among a part's worst; the first part named wins.
function stepMarks(path, parts) {
  const marks = new Map();
  // Only parts with something to fix are marked: a part that is close needs no attention in the replay.
  for (const part of parts.filter((entry) => entry.band !== CLOSE_BAND)) {
    const worst = new Set(part.worstFrames || []);
    path.forEach(([a], k) => {
      if (worst.has(a) && !marks.has(k)) marks.set(k, { points: pointsOfPart(part.part), label: (part.name || part.part).toLowerCase() });
    });
  }
  return marks;
}

// The attempt beside `reference`, aligned; `parts` (partFeedback's, or none) marks the worst frames.
function playReplay(reference, path, parts) {
  const attempt = state.attempt;
  const marks = stepMarks(path, parts);
  $('replay-box').hidden = false;
  $('replay-title').textContent = `Your attempt beside ${reference.name}`;
  playSideBySide(state.replayLoop, attempt, reference, path, skeletonStyle(), marks, (mark) => {
    const text = mark ? `Largest difference here: ${mark.label}.` : '';
    if ($('replay-mark').textContent !== text) $('replay-mark').textContent = text;
  });
  $('replay-pause').textContent = 'Pause';
  window.spoter.replay = { gloss: reference.gloss, reference: reference.clip_id, path, marked: [...marks.keys()] };
}

// Search mode's "show me": the attempt beside the nearest reference of a gloss of the list.
function replayBeside(gloss) {
  const reference = state.attempt && nearestReference(gloss, state.attempt.embedding);
  if (!reference) { showMessage(noReferenceReason(gloss) || 'Open or record a clip first.'); return; }
  showMessage('');
  playReplay({ ...reference, gloss }, align(state.attempt.frames, reference.frames, clipRates(reference)), []);
}

// The frame rates feedback.js times the movement by: the attempt's own (its frames' times, else the landmark
// file's, else 30) and the reference's.
function clipRates(reference) {
  return { attemptFps: state.attempt.fps, referenceFps: reference.fps };
}

function recordingFps(recording) {
  const times = recording.frameTimesMs;
  if (times.length >= 2 && times[times.length - 1] > times[0]) return 1000 * (times.length - 1) / (times[times.length - 1] - times[0]);
  return recording.fps || DEFAULT_FPS;
}

// One part of the feedback: its plain-words sentence (which names the part), a meter and its score.
function feedbackItem(part) {
  const li = document.createElement('li');
  const sentence = Object.assign(document.createElement('span'), { className: 'sentence', textContent: part.sentence });
  const meter = Object.assign(document.createElement('meter'), { min: 0, max: 100, low: 40, high: 70, optimum: 100, value: part.score });
  meter.setAttribute('aria-label', `${part.name || part.part}: ${Math.round(part.score)} out of 100`);
  const score = Object.assign(document.createElement('span'), { className: 'part-score', textContent: `${Math.round(part.score)} / 100` });
  li.append(sentence, meter, score);
  return li;
}

function feedbackNote(text) {
  $('feedback').replaceChildren(Object.assign(document.createElement('li'), { className: 'note', textContent: text }));
  $('feedback').hidden = false;
}

// Per-part feedback on an attempt at `gloss` against its nearest reference, shown with the replay; null (and
// a note on the page) when the index holds no reference of it.
function showFeedback(gloss, embedding) {
  const reference = nearestReference(gloss, embedding);
  if (!reference) { feedbackNote(noReferenceReason(gloss)); return null; }
  let feedback;
  try {
    // /index.json holds the per-part calibration; an index made before it was stored has none.
    feedback = partFeedback(state.attempt.frames, reference.frames, state.index, clipRates(reference));
  } catch (error) {
    feedbackNote(`No feedback per part: ${error.message}.`);
    playReplay({ ...reference, gloss }, align(state.attempt.frames, reference.frames, clipRates(reference)), []);
    return null;
  }
  $('feedback').replaceChildren(...feedback.parts.map(feedbackItem));
  if (feedback.swappedHands) {
    $('feedback').appendChild(Object.assign(document.createElement('li'), { className: 'note',
      textContent: 'You signed with the other hand leading: your hands were compared mirrored.' }));
  }
  $('feedback').hidden = false;
  playReplay({ ...reference, gloss }, feedback.path, feedback.parts);
  return { reference: reference.clip_id, reference_name: reference.name, parts: feedback.parts, path: feedback.path,
    swapped_hands: Boolean(feedback.swappedHands) };
}

function showPractice(practice) {
  const practiceBox = $('practice');
  practiceBox.hidden = !practice;
  if (!practice) return;
  practiceBox.textContent = `"${practice.gloss}": score ${practice.score.toFixed(0)} / 100 ` +
    `(distance ${practice.distance.toFixed(3)} to ${practice.clip})`;
  if (!keepScore(practice.gloss, practice.score)) {
    practiceBox.textContent += ' (this browser keeps no data for this page: scores are not remembered)';
  }
  state.chosen = practice.gloss;
  showProgress();
}

function showTimings(result) {
  const t = result.timings;
  const lines = [
    result.from_file ? ['landmarks', 'read from the file', '']
      : ['landmarks (MediaPipe Holistic)', `${t.landmarks_ms.toFixed(0)} ms`, `${(t.landmarks_ms / Math.max(1, result.frames)).toFixed(1)} ms/frame`],
    ['layout mapping', `${t.mapping_ms.toFixed(2)} ms`, ''],
    ['embedding (onnxruntime-web)', `${t.embedding_ms.toFixed(1)} ms`, `${result.frames} frames`],
    ['search + score', `${t.search_ms.toFixed(2)} ms`, `${state.index.labels.length} index clips`],
  ];
  if (t.feedback_ms !== undefined) lines.push(['alignment + feedback', `${t.feedback_ms.toFixed(1)} ms`, '']);
  lines.push(['end of recording to feedback', `${t.after_recording_ms.toFixed(0)} ms`, '']);
  $('timings').querySelector('tbody').replaceChildren(...lines.map(([a, b, c]) => row([[a], [b, true], [c, true]])));
}

function showResult(result) {
  $('nearest').querySelector('tbody').replaceChildren(...result.nearest.slice(0, NEAREST_SHOWN).map(nearestRow));
  $('nearest').hidden = false;
  const verdict = $('verdict');
  verdict.textContent = verdictSentence(result.nearest[0], result.verdict, state.index.score_quantiles);
  verdict.className = `verdict ${result.verdict}`;
  verdict.hidden = false;
  showPractice(result.practice);
}

// Why a recording cannot be scored, or '' when it can: checked before the model runs.
function attemptProblem(recording) {
  const frames = recording.frames, n = frames.length, source = recording.source;
  if (!n) return `${source}: no frame could be read.`;
  if (n < MIN_FRAMES) {
    return `${source}: too short, ${n} frame${n === 1 ? '' : 's'}; a sign takes about a second: record ` +
      `or open at least ${MIN_FRAMES} frames.`;
  }
  if (!frames.some((f) => f.pose)) {
    return `${source}: no person detected in any of its ${n} frames. Face the camera, with your head, ` +
      'shoulders and hands in the picture.';
  }
  if (!frames.some((f) => f.left_hand || f.right_hand)) {
    return `${source}: no hands detected in any of its ${n} frames. Sign with your hands inside the picture, ` +
      'in good light.';
  }
  return '';
}

async function analyse(recording, gloss) {
  const problem = attemptProblem(recording);
  if (problem) { showMessage(problem); return; }
  const frames = recording.frames;
  const handFrames = frames.filter((f) => f.left_hand || f.right_hand).length;
  let started = performance.now();
  const keypoints = toLayout(frames, state.model);
  const mappingMs = performance.now() - started;
  started = performance.now();
  const embedding = await embed(keypoints, frames.length);
  const embeddingMs = performance.now() - started;
  started = performance.now();
  const nearest = nearestByGloss(embedding, state.index);
  const verdict = matchVerdict(nearest[0].distance, state.index.score_quantiles);
  const practice = gloss === null ? null : practiceScore(nearest, gloss, state.index.score_quantiles);
  const searchMs = performance.now() - started;
  const read = recording.video;
  const result = { source: recording.source, from_file: Boolean(recording.fromFile), frames: frames.length, hand_frames: handFrames,
    skipped_frames: recording.skippedFrames, unread_frames: read ? read.unreadFrames : 0, video: read,
    frame_times_ms: recording.frameTimesMs, embedding, nearest, verdict, practice, feedback: null,
    timings: { landmarks_ms: recording.frameMs.reduce((a, b) => a + b, 0), landmarks_frame_ms: recording.frameMs, mapping_ms: mappingMs, embedding_ms: embeddingMs, search_ms: searchMs } };
  const aspect = recording.width && recording.height ? recording.width / recording.height : REFERENCE_ASPECT;
  state.attempt = { frames: layoutFrames(keypoints, frames.length), embedding, aspect, name: 'You',
    fps: recordingFps(recording) };
  showMessage('');
  showResult(result);
  if (practice) {
    started = performance.now();
    result.feedback = showFeedback(gloss, embedding);
    result.timings.feedback_ms = performance.now() - started;
  }
  result.timings.after_recording_ms = performance.now() - recording.endedMs;
  showTimings(result);
  setStatus(framesNote(recording, handFrames));
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

// One input, start to end: the screen is cleared and the practice gloss checked first, so that a wrong gloss
// is refused at once, not after MediaPipe has read the whole clip; task(gloss) then reads and scores it.
async function run(task) {
  if (state.busy) return;
  state.busy = true; state.stopRequested = false; state.recording = null;
  Object.assign(window.spoter, { result: null, frames: null, mediapipeFrames: 0 });
  for (const id of ['camera', 'video-file', 'landmark-file', 'save']) $(id).disabled = true;
  clearResult();
  try {
    const choice = chosenGloss();
    // A gloss typed rather than chosen from the list: its reference plays all the same.
    if (choice && choice.gloss !== null && choice.gloss !== state.chosen) chooseGloss(choice.gloss);
    if (choice) await task(choice.gloss);
  } catch (error) { showMessage(`Unexpected error: ${error.message}`); console.error(error); }
  state.busy = false;
  for (const id of ['camera', 'video-file', 'landmark-file']) $(id).disabled = false;
  $('save').disabled = !state.recording || !state.recording.frames.length;
  $('stop').disabled = true;
  window.spoter.done = (window.spoter.done || 0) + 1;
}

// A count down over the live picture, so that the learner is in place, hands ready, when recording starts.
async function countDown(seconds) {
  const box = $('countdown');
  box.hidden = false;
  for (let left = seconds; left > 0 && !state.stopRequested; left--) {
    box.textContent = String(left);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  box.hidden = true;
  box.textContent = '';
}

// The camera's frames (the first maxFrames, else the seconds asked for, else until Stop), after a count down
// of `countdown` seconds (0 for automation, whose tests need the camera's first frames).
async function fromCamera(maxFrames, gloss, countdown) {
  const video = $('video');
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 }, audio: false });
  } catch (error) { showMessage(cameraMessage(error)); return; }
  showMessage('');
  video.srcObject = stream;
  try {
    $('stop').disabled = false;
    if (countdown) {
      await video.play();
      setStatus('Get ready: recording starts when the count reaches zero.');
      await countDown(countdown);
      if (state.stopRequested) { setStatus('Recording cancelled.'); return; }
    }
    setStatus('Recording: sign now.');
    const recording = state.recording = newRecording('camera');
    await recordCamera(video, stream.getVideoTracks()[0], recording, maxFrames, Number($('seconds').value) || 3);
  } finally {
    stream.getTracks().forEach((track) => track.stop());
    video.srcObject = null;
  }
  await analyse(state.recording, gloss);
}

function loaded(video) {
  return new Promise((resolve, reject) => {
    video.onloadeddata = () => resolve();
    video.onerror = () => reject(new Error('decode'));
  }).finally(() => { video.onloadeddata = null; video.onerror = null; });
}

// Why this browser cannot read a file frame by frame, or null when it can.
function frameByFrameMissing() {
  if (!('VideoFrame' in window)) {
    return 'this browser cannot take a frame of a video with its time (no WebCodecs VideoFrame); ' +
      'use a recent Chrome, Edge, Firefox or Safari';
  }
  if (!takesTimestamps(state.holistic)) {
    return 'this @mediapipe/holistic build takes no frame timestamps; run `npm ci` in web/ for the pinned one';
  }
  return null;
}

async function fromVideoFile(file, gloss) {
  // A file the system knows to be something else is refused at once; one of unknown type is tried.
  if (file.type && !file.type.startsWith('video/')) {
    showMessage(`${file.name}: not a video file (${file.type}); open an MP4 or WebM video here, or a landmark file ` +
      'with "landmark file".');
    return;
  }
  const missing = frameByFrameMissing();
  if (missing) { showMessage(`${file.name}: ${missing}. Or open a landmark file.`); return; }
  const video = $('video');
  video.srcObject = null;
  const url = URL.createObjectURL(file);
  video.src = url;
  state.holistic.reset();
  const recording = state.recording = newRecording(file.name);
  try {
    await loaded(video);
    setStatus(`Reading ${file.name} frame by frame...`);
    $('stop').disabled = false;
    await recordVideo(video, recording);
    recording.endedMs = performance.now();
  } catch (error) {
    if (error.message !== 'decode') throw error;
    showMessage(`${file.name}: this video cannot be decoded by the browser; try an MP4 (H.264) or WebM file.`);
    return;
  } finally {
    video.removeAttribute('src'); video.load(); URL.revokeObjectURL(url);
  }
  await analyse(recording, gloss);
}

function checkLandmarkFile(document) {
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

async function fromLandmarkFile(file, gloss) {
  let document, frames;
  try {
    document = JSON.parse(await file.text());
    frames = checkLandmarkFile(document);
  } catch (error) {
    showMessage(`${file.name}: not a landmark file (${error.message}). Expected JSON {"pose": [...], "left_hand": [...], "right_hand": [...]}, one entry per frame.`);
    return;
  }
  const recording = state.recording = newRecording(file.name);
  recording.frames = frames;
  recording.fromFile = true;
  recording.endedMs = performance.now();
  // The picture's size when the file gives it (preprocess.py extract's do), for the skeleton's proportions.
  const size = (value) => (Number.isFinite(value) && value > 0 ? value : 0);
  recording.width = size(document.width) || 640; recording.height = size(document.height) || 480;
  recording.fps = size(document.fps) || DEFAULT_FPS;
  drawLive(frames[frames.length - 1], recording.width, recording.height);
  await analyse(recording, gloss);
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

function wireControls() {
  $('camera').onclick = () => run((gloss) => fromCamera(0, gloss, COUNTDOWN_S));
  $('stop').onclick = () => { state.stopRequested = true; state.stopRequestedMs = performance.now(); };
  $('video-file').onchange = (event) => { const file = event.target.files[0]; event.target.value = ''; if (file) run((gloss) => fromVideoFile(file, gloss)); };
  $('landmark-file').onchange = (event) => { const file = event.target.files[0]; event.target.value = ''; if (file) run((gloss) => fromLandmarkFile(file, gloss)); };
  $('save').onclick = saveLandmarks;
  $('reference-pause').onclick = () => togglePause(state.referenceLoop, 'reference-pause');
  $('replay-pause').onclick = () => togglePause(state.replayLoop, 'replay-pause');
  // Typing a whole gloss and pressing Enter chooses it, as clicking it in the list does.
  $('gloss').addEventListener('keydown', (event) => {
    if (event.key !== 'Enter') return;
    const matches = glossMatches($('gloss').value.trim(), state.glosses);
    if (matches.length === 1) chooseGloss(matches[0]);
  });
  for (const id of ['camera', 'video-file', 'landmark-file']) $(id).disabled = false;
}

function togglePause(loop, buttonId) {
  loop.toggle();
  $(buttonId).textContent = loop.paused ? 'Play' : 'Pause';
}

// Where the reference and the replay stand, for the browser tests: they see the pictures move.
function playback() {
  const of = (loop) => ({ step: loop.step, drawn: loop.drawn, bones: loop.bones, playing: loop.durationsMs.length > 0 && !loop.paused });
  return { reference: of(state.referenceLoop), replay: of(state.replayLoop) };
}

// For benchmarks/bench_page.py: the model on `frames` frames of keypoints (flat, null for NaN), `runs` times
// in a row; the time of each run in ms (the first on a fresh page includes onnxruntime-web's warm-up).
async function timeEmbedding(keypoints, frames, runs) {
  const input = Float32Array.from(keypoints, (v) => (v === null ? NaN : v));
  const times = [];
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    await embed(input, frames);
    times.push(performance.now() - started);
  }
  return times;
}

async function init() {
  const started = performance.now();
  [state.model, state.index, state.references] = await Promise.all(
    [fetchJSON('/model.json'), fetchJSON('/index.json'), fetchJSON('/references.json')]);
  state.parts = pointParts(state.model.keypoint_names);
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
  state.referenceLoop = new Loop($('reference'), () => 0);
  state.replayLoop = new Loop($('replay'), () => 0);
  const counts = glossCounts(state.index);
  state.glosses = counts.map((entry) => entry.gloss);
  state.list = new GlossList($('gloss'), $('gloss-list'), counts, chooseGloss);
  showProgress();
  $('about').textContent = `Model ${state.model.checkpoint} (sha256 ${state.model.checkpoint_sha256.slice(0, 12)}..., ` +
    `${state.model.vector_length}-d embeddings); index of ${state.index.labels.length} clips, ${state.glosses.length} glosses; ` +
    `MediaPipe inference on the ${state.inference.on.toUpperCase()} (${state.inference.why}). ` +
    `Loaded in ${((performance.now() - started) / 1000).toFixed(1)} s.`;
  wireControls();
  setStatus(READY);
  Object.assign(window.spoter, { playback, timeEmbedding, ready: true });
  // Automation (and links that start at once): ?mode=practice&gloss=book&camera=FRAMES
  const named = params.get('gloss') ? glossMatches(params.get('gloss'), state.glosses) : [];
  if (named.length === 1) chooseGloss(named[0]);
  else if (params.get('gloss')) $('gloss').value = params.get('gloss');
  if (params.get('mode') === 'practice') document.querySelector('input[value="practice"]').checked = true;
  if (params.get('mode') === 'search') document.querySelector('input[value="search"]').checked = true;
  if (params.get('camera')) run((gloss) => fromCamera(Number(params.get('camera')), gloss, 0));
}

window.spoter.recordCamera = (frames) => run((gloss) => fromCamera(frames, gloss, 0));
init().catch((error) => {
  showMessage(`The page could not start: ${error.message}. Is serve.py running, and was \`npm ci\` run in web/?`);
  console.error(error);
});
