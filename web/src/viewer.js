// The page of `samadapt serve` (docs/serve.md): NiiVue shows the volume, the edited labels and the pending mask of the
// current prompt; every action is one call to the server's /api. Bundled by build.mjs (no CDN, no network at run time).
import { Niivue, SLICE_TYPE } from '@niivue/niivue'

const token = new URLSearchParams(location.search).get('token')
const $ = (id) => document.getElementById(id)
const state = {
  info: null, volume: null, inverse: null, tool: 'navigate', label: 1, points: [], box: null,
  promptSlice: -1, pending: [], embedded: new Set(), busy: 0,
}
// test hooks: the browser tests read these (last prompt's server time, counts) instead of timing the page
window.samadapt = { state, ready: false, lastPrompt: null }

function withToken(url) {
  if (!token) return url
  return url + (url.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token)
}

function status(message, isError = false) {
  const s = $('status')
  s.textContent = message
  s.classList.toggle('error', isError)
}

async function api(path, body, method) {
  const opts = { method: method ?? (body === undefined ? 'GET' : 'POST'), headers: {} }
  if (token) opts.headers['X-SamAdapt-Token'] = token
  if (body instanceof FormData) opts.body = body
  else if (body !== undefined) { opts.headers['Content-Type'] = 'application/json'; opts.body = JSON.stringify(body) }
  const r = await fetch('/api' + path, opts)
  const type = r.headers.get('Content-Type') || ''
  if (!r.ok) {
    let message = `${r.status} ${r.statusText}`
    if (type.includes('json')) { try { message = (await r.json()).error ?? message } catch { /* keep the status */ } }
    throw new Error(message)
  }
  if (type.includes('json')) return r.json()
  return new Uint8Array(await r.arrayBuffer())
}

async function guarded(what, f) {
  state.busy++
  try { return await f() } catch (e) { status(`${what}: ${e.message}`, true); return undefined } finally { state.busy-- }
}

// ------------------------------------------------------------------ viewer

const nv = new Niivue({ show3Dcrosshair: true, backColor: [0.1, 0.1, 0.12, 1], dragMode: 1, isNearestInterpolation: false })
await nv.attachToCanvas($('gl'))
nv.setSliceType(SLICE_TYPE.MULTIPLANAR)

function labelColormap(classes) {
  const max = Math.max(1, ...classes.map((c) => c.value))
  const cm = { R: [0], G: [0], B: [0], A: [0], I: [0], labels: [''] }
  for (const c of classes) {
    cm.R.push(parseInt(c.color.slice(1, 3), 16)); cm.G.push(parseInt(c.color.slice(3, 5), 16)); cm.B.push(parseInt(c.color.slice(5, 7), 16))
    cm.A.push(255); cm.I.push(c.value); cm.labels.push(c.name)
  }
  cm.min = 0; cm.max = max
  return cm
}

function invert4(m) {
  // row-major 4×4 affine inverse (rotation/scale block by cofactors, then translation)
  const [a, b, c, d, e, f, g, h, i] = [m[0], m[1], m[2], m[4], m[5], m[6], m[8], m[9], m[10]]
  const A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g
  const det = a * A + b * B + c * C
  const r = [
    A / det, -(b * i - c * h) / det, (b * f - c * e) / det,
    B / det, (a * i - c * g) / det, -(a * f - c * d) / det,
    C / det, -(a * h - b * g) / det, (a * e - b * d) / det,
  ]
  const t = [m[3], m[7], m[11]]
  return [
    r[0], r[1], r[2], -(r[0] * t[0] + r[1] * t[1] + r[2] * t[2]),
    r[3], r[4], r[5], -(r[3] * t[0] + r[4] * t[1] + r[5] * t[2]),
    r[6], r[7], r[8], -(r[6] * t[0] + r[7] * t[1] + r[8] * t[2]),
  ]
}

/** Voxel coordinates (continuous i, j, k) of a world position (RAS mm). */
function mmToVoxel(mm) {
  const m = state.inverse
  return [0, 1, 2].map((r) => m[4 * r] * mm[0] + m[4 * r + 1] * mm[1] + m[4 * r + 2] * mm[2] + m[4 * r + 3])
}

function crosshairVoxel() {
  const mm = nv.frac2mm(nv.scene.crosshairPos)
  return mmToVoxel(mm)
}

async function loadVolume(info) {
  state.volume = info
  state.inverse = invert4(info.affine)
  state.points = []; state.box = null; state.pending = []; state.embedded = new Set()
  $('volume-name').textContent = `${info.name} — ${info.shape.join('×')}${info.dicom ? ' (DICOM)' : ''}`
  $('download-seg').disabled = !info.dicom
  $('box-to').value = Math.max(0, info.shape[2] - 1)
  const stamp = Date.now()
  await nv.loadVolumes([
    { url: withToken(`/api/volume.nii.gz?v=${stamp}`), name: 'volume.nii.gz' },
    { url: withToken(`/api/labels.nii.gz?v=${stamp}`), name: 'labels.nii.gz', opacity: Number($('opacity').value) },
    { url: withToken(`/api/labels.nii.gz?pending=true&v=${stamp}`), name: 'pending.nii.gz', opacity: 0.6 },
  ])
  nv.volumes[1].setColormapLabel(labelColormap(state.info.classes))
  nv.volumes[2].setColormapLabel({ R: [0, 255], G: [0, 255], B: [0, 120], A: [0, 255], I: [0, 1], labels: ['', 'pending'] })
  applyWindow()
  nv.setInterpolation(true)
  nv.updateGLVolume()
  window.samadapt.ready = true
  status(`opened ${info.name}`)
}

function applyWindow() {
  if (!state.volume || nv.volumes.length === 0) return
  const v = $('window').value
  let lo, hi
  if (v === 'auto') [lo, hi] = state.volume.range
  else { const [c, w] = v.split(',').map(Number); lo = c - w / 2; hi = c + w / 2 }
  nv.volumes[0].cal_min = lo
  nv.volumes[0].cal_max = hi
  nv.updateGLVolume()
}

function plane() { return state.volume.shape[0] * state.volume.shape[1] }

/** Copies the server's pending masks into the pending overlay (slice k of a mask → voxels k·plane…). */
function showPending(slices) {
  const img = nv.volumes[2].img
  img.fill(0)
  for (const s of slices) {
    const bytes = Uint8Array.from(atob(s.mask), (ch) => ch.charCodeAt(0))
    img.set(bytes, s.slice * plane())
  }
  state.pending = slices
  nv.updateGLVolume()
}

async function refreshLabels() {
  const raw = await api('/labels.raw')
  nv.volumes[1].img.set(raw)
  showPending([])
}

// ------------------------------------------------------------------ prompts

async function prompt() {
  const v = state.volume
  if (!v) return
  const body = { slice: state.promptSlice, points: state.points.map((p) => [p.x, p.y, p.label]) }
  if (state.box) body.box = state.box
  if (state.box && $('box3d').checked) body.boxSlices = [Number($('box-from').value), Number($('box-to').value)]
  if (!state.embedded.has(state.promptSlice)) $('embedding').textContent = `computing the embedding of slice ${state.promptSlice}…`
  const r = await guarded('prompt', () => api('/prompt', body))
  if (!r) return
  for (const s of r.slices) state.embedded.add(s.slice)
  $('embedding').textContent = `slice ${state.promptSlice}: embedding cached`
  window.samadapt.lastPrompt = r
  showPending(r.slices)
  const voxels = r.slices.reduce((n, s) => n + s.voxels, 0)
  status(`mask: ${voxels} voxel(s) on ${r.slices.length} slice(s); server ${r.serverMs.toFixed(0)} ms${r.embedded ? ` (incl. ${r.embedded} embedding(s))` : ''}`)
}

function resetPrompt(k) {
  state.points = []; state.box = null; state.promptSlice = k
}

function pointAtCrosshair(label) {
  const v = state.volume
  const [i, j, k] = crosshairVoxel()
  const slice = Math.round(k)
  if (slice < 0 || slice >= v.shape[2]) return
  if (slice !== state.promptSlice) resetPrompt(slice)
  const x = Math.min(v.shape[0], Math.max(0, i + 0.5)), y = Math.min(v.shape[1], Math.max(0, j + 0.5))
  state.points.push({ x, y, label })
  window.samadapt.clicks = (window.samadapt.clicks ?? 0) + 1
  prompt()
}

$('gl').addEventListener('pointerup', (e) => {
  if (e.button !== 0 || !state.volume) return
  if (state.tool === 'positive' || state.tool === 'negative') {
    // NiiVue moves the crosshair on this click first
    setTimeout(() => pointAtCrosshair(state.tool === 'positive' ? 1 : 0), 0)
  }
})

nv.onDragRelease = (p) => {
  if (state.tool !== 'box' || !state.volume) return
  const a = mmToVoxel(p.mmStart), b = mmToVoxel(p.mmEnd)
  const v = state.volume
  const slice = Math.round(a[2])
  if (slice !== state.promptSlice) resetPrompt(slice)
  const cx = (t) => Math.min(v.shape[0], Math.max(0, t)), cy = (t) => Math.min(v.shape[1], Math.max(0, t))
  state.box = [cx(Math.min(a[0], b[0]) + 0.5), cy(Math.min(a[1], b[1]) + 0.5), cx(Math.max(a[0], b[0]) + 0.5), cy(Math.max(a[1], b[1]) + 0.5)]
  prompt()
}

nv.onLocationChange = (data) => {
  window.samadapt.lastLocation = data // the browser test compares NiiVue's own voxel value with the prompt's voxel
  if (!state.volume || state.tool === 'navigate') return
  const k = Math.round(crosshairVoxel()[2])
  if (k >= 0 && k < state.volume.shape[2] && !state.embedded.has(k)) {
    // warm the cache for the slice the user is looking at
    state.embedded.add(k)
    $('embedding').textContent = `computing the embedding of slice ${k}…`
    api('/embed', { slice: k }).then(() => { $('embedding').textContent = `slice ${k}: embedding cached` })
      .catch((e) => { state.embedded.delete(k); status(`embedding: ${e.message}`, true) })
  }
}

for (const b of document.querySelectorAll('#tools button')) {
  b.addEventListener('click', () => {
    state.tool = b.dataset.tool
    for (const o of document.querySelectorAll('#tools button')) o.classList.toggle('active', o === b)
    nv.opts.dragMode = state.tool === 'box' ? nv.dragModes.callbackOnly : nv.dragModes.contrast
  })
}

$('accept').addEventListener('click', () => guarded('accept', async () => {
  const r = await api('/accept', { label: state.label })
  await refreshLabels()
  resetPrompt(-1)
  status(`accepted: ${r.changed} voxel(s) set to label ${state.label}`)
}))
$('erase').addEventListener('click', () => guarded('erase', async () => {
  const r = await api('/accept', { label: 0 })
  await refreshLabels()
  resetPrompt(-1)
  status(`erased ${r.changed} voxel(s)`)
}))
$('clear').addEventListener('click', () => guarded('clear', async () => { await api('/clear', {}); showPending([]); resetPrompt(-1) }))
$('undo').addEventListener('click', () => guarded('undo', async () => {
  const r = await api('/undo', {})
  await refreshLabels()
  status(r.undone ? 'undone' : 'nothing to undo')
}))

// ------------------------------------------------------------------ automatic prediction

$('auto').addEventListener('click', () => guarded('automatic prediction', async () => {
  await api('/auto', { model: $('auto-model').value || null })
  const events = new EventSource(withToken('/api/auto/events'))
  await new Promise((resolve) => {
    events.onmessage = async (m) => {
      const s = JSON.parse(m.data)
      $('auto-progress').max = Math.max(1, s.total)
      $('auto-progress').value = s.done
      $('auto-status').textContent = s.state === 'error' ? `error: ${s.error}` : `${s.state}: ${s.done} / ${s.total} slices`
      if (s.state === 'done' || s.state === 'error' || s.state === 'idle') {
        events.close()
        if (s.state === 'done') { await refreshLabels(); status(`automatic prediction done (${s.model})`) } else if (s.state === 'error') status(`automatic prediction: ${s.error}`, true)
        resolve()
      }
    }
    events.onerror = () => { events.close(); resolve() }
  })
}))

// ------------------------------------------------------------------ open and save

$('upload').addEventListener('change', () => guarded('upload', async () => {
  const files = $('upload').files
  if (!files.length) return
  const form = new FormData()
  for (const f of files) form.append('files', f, f.name)
  status(`uploading ${files.length} file(s)…`)
  await loadVolume(await api('/upload', form))
}))

async function browse(dir) {
  const [entries, series] = await Promise.all([
    api('/files?dir=' + encodeURIComponent(dir)),
    // a folder whose DICOM files cannot be read still lists its entries; the reason shows in the status line
    dir ? api('/series?path=' + encodeURIComponent(dir)).catch((e) => { status(`DICOM series: ${e.message}`, true); return [] }) : [],
  ])
  $('browser-path').textContent = '/' + dir + (series.length ? ` (${series.length} DICOM series)` : '')
  const list = $('browser-list')
  list.replaceChildren()
  if (dir) {
    const up = document.createElement('li')
    up.textContent = '..'
    up.onclick = () => guarded('browse', () => browse(dir.split('/').slice(0, -1).join('/')))
    list.append(up)
  }
  for (const s of series) { // a DICOM folder: one entry per series, clicking one opens it
    const li = document.createElement('li')
    li.className = 'series'
    li.dataset.series = s.id
    li.textContent = `🗂 ${s.description || '(no description)'} · ${s.modality || '?'} · ${s.columns}×${s.rows} · ${s.slices} slice(s)` +
      (s.problem ? ` · ${s.problem}` : '')
    li.title = 'open this series (' + s.id + ')'
    li.onclick = () => guarded('open', async () => loadVolume(await api('/open', { path: dir, series: s.id })))
    list.append(li)
  }
  for (const e of entries) {
    const li = document.createElement('li')
    li.textContent = (e.kind === 'dir' ? '📁 ' : '') + e.name
    li.title = e.kind === 'dir' ? 'double-click: open as a DICOM series; click: enter' : 'open'
    if (e.kind === 'dir') {
      li.onclick = () => guarded('browse', () => browse(e.path))
      li.ondblclick = () => guarded('open', () => openFolder(e.path))
    } else li.onclick = () => guarded('open', async () => loadVolume(await api('/open', { path: e.path })))
    list.append(li)
  }
}

// Double-click on a folder: open its DICOM series directly when it holds exactly one; otherwise the listing (browse) shows
// the series to choose from.
async function openFolder(path) {
  const series = await api('/series?path=' + encodeURIComponent(path))
  if (series.length === 1) return loadVolume(await api('/open', { path, series: series[0].id }))
  return browse(path)
}

function download(format) {
  const a = document.createElement('a')
  a.href = withToken('/api/download?format=' + format)
  a.click()
}
$('download-nifti').addEventListener('click', () => download('nifti'))
$('download-seg').addEventListener('click', () => download('dicom-seg'))
$('save').addEventListener('click', () => guarded('save', async () => {
  const r = await api('/save', { path: $('save-path').value, format: $('save-format').value })
  status(`saved ${r.saved}`)
}))

// ------------------------------------------------------------------ controls

for (const b of document.querySelectorAll('[data-view]')) {
  b.addEventListener('click', () => nv.setSliceType({
    axial: SLICE_TYPE.AXIAL, coronal: SLICE_TYPE.CORONAL, sagittal: SLICE_TYPE.SAGITTAL, multi: SLICE_TYPE.MULTIPLANAR,
  }[b.dataset.view]))
}
$('window').addEventListener('change', applyWindow)
$('opacity').addEventListener('input', () => { if (nv.volumes.length > 1) nv.setOpacity(1, Number($('opacity').value)) })

function renderLegend() {
  const ul = $('legend')
  ul.replaceChildren()
  for (const c of state.info.classes) {
    const li = document.createElement('li')
    li.dataset.value = c.value
    li.innerHTML = `<span class="swatch" style="background:${c.color}"></span><span></span>`
    li.lastChild.textContent = `${c.value}: ${c.name}`
    li.onclick = () => { state.label = c.value; for (const o of ul.children) o.classList.toggle('active', o === li) }
    li.classList.toggle('active', c.value === state.label)
    ul.append(li)
  }
}

await guarded('start', async () => {
  state.info = await api('/info')
  state.label = state.info.classes[0]?.value ?? 1
  renderLegend()
  $('models').textContent = [state.info.interactive && `interactive: ${state.info.interactive}`,
    state.info.automatic.length && `automatic: ${state.info.automatic.map((m) => m.name).join(', ')}`].filter(Boolean).join(' · ')
  const select = $('auto-model')
  for (const m of state.info.automatic) select.append(new Option(`${m.name} (${m.method})`, m.name))
  $('auto-section').hidden = state.info.automatic.length === 0
  $('tools').parentElement.hidden = !state.info.interactive
  if (state.info.dataRoot) { $('browser').hidden = false; $('save-root').hidden = false; await browse('') }
  const s = await api('/session')
  if (s.volume) await loadVolume(s.volume)
  status('ready')
})
window.samadapt.started = true
