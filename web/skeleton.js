// A frame of the model's 54-point layout ([x, y] or null per point, x and y as shares of the picture's width
// and height) drawn as a skeleton: the sidecar's bones as lines, the body and each hand in its own colour.
// Used for the live picture while recording, the reference clips and the side-by-side replay.

const COLOURS = { body: '#f6e05e', left: '#68d391', right: '#63b3ed' };
const HIGHLIGHT = '#f56565';
// Share of a fitted clip's box left free around it, so that fingertips at the edge stay visible.
const MARGIN = 0.08;

// Which part a point belongs to, from its name in the sidecar ("indexTip_left"): the names are the layout's.
export function pointParts(keypointNames) {
  return keypointNames.map((name) => (name.endsWith('_left') ? 'left' : name.endsWith('_right') ? 'right' : 'body'));
}

function present(point) { return Boolean(point) && Number.isFinite(point[0]) && Number.isFinite(point[1]); }

// Points onto a picture of width x height pixels, as the camera or a video file gave them.
export function imageView(width, height) {
  return (point) => [point[0] * width, point[1] * height];
}

// The smallest box holding every point the clip ever shows, in units of the picture's height (x scaled by
// `aspect`, width / height), so that a clip keeps its proportions when fitted.
function clipBox(frames, aspect) {
  const box = { x0: Infinity, y0: Infinity, x1: -Infinity, y1: -Infinity };
  for (const frame of frames) {
    for (const point of frame) {
      if (!present(point)) continue;
      const x = point[0] * aspect;
      box.x0 = Math.min(box.x0, x); box.x1 = Math.max(box.x1, x);
      box.y0 = Math.min(box.y0, point[1]); box.y1 = Math.max(box.y1, point[1]);
    }
  }
  return Number.isFinite(box.x0) ? box : { x0: 0, y0: 0, x1: aspect, y1: 1 };
}

// Points of a clip onto the rectangle `rect` ({x, y, width, height} in pixels), the whole clip fitted and
// centred: one mapping for all its frames, so that the signer's movement shows and the picture does not jump.
export function fittedView(frames, aspect, rect) {
  const box = clipBox(frames, aspect || 1);
  const spanX = Math.max(box.x1 - box.x0, 1e-6), spanY = Math.max(box.y1 - box.y0, 1e-6);
  const scale = (1 - 2 * MARGIN) * Math.min(rect.width / spanX, rect.height / spanY);
  const left = rect.x + (rect.width - spanX * scale) / 2, top = rect.y + (rect.height - spanY * scale) / 2;
  return (point) => [left + (point[0] * (aspect || 1) - box.x0) * scale, top + (point[1] - box.y0) * scale];
}

function line(context, a, b) {
  context.beginPath(); context.moveTo(a[0], a[1]); context.lineTo(b[0], b[1]); context.stroke();
}

// One frame: each bone whose two ends were seen, then the joints. `highlighted` (a Set of point indices) is
// drawn in red and thicker: where the attempt differs most. Returns how many bones were drawn.
export function drawSkeleton(context, frame, { bones, parts, view, size, highlighted }) {
  const width = Math.max(1.5, size / 160);
  let drawn = 0;
  context.lineCap = 'round';
  for (const [a, b] of bones) {
    if (!present(frame[a]) || !present(frame[b])) continue;
    const hot = highlighted && highlighted.has(a) && highlighted.has(b);
    context.strokeStyle = hot ? HIGHLIGHT : COLOURS[parts[b]];
    context.lineWidth = hot ? 2.2 * width : width;
    line(context, view(frame[a]), view(frame[b]));
    drawn += 1;
  }
  frame.forEach((point, i) => {
    if (!present(point)) return;
    const [x, y] = view(point);
    context.fillStyle = highlighted && highlighted.has(i) ? HIGHLIGHT : COLOURS[parts[i]];
    context.beginPath(); context.arc(x, y, width, 0, 2 * Math.PI); context.fill();
  });
  return drawn;
}
