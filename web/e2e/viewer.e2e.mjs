// End-to-end run of the viewer page in Debian's chromium, driven by playwright-core (no browser download).
// usage: node viewer.e2e.mjs URL OUT_DIR VOLUME_NAME [STUDY_FOLDER SERIES_DESCRIPTION]
// Opens VOLUME_NAME from the data root, checks that the canvas renders, clicks a foreground point, accepts the mask,
// runs the automatic prediction, saves the labels into the data root (out/e2e_labels.nii.gz) and prints one JSON line
// with what it saw; the screenshots go to OUT_DIR. With STUDY_FOLDER (a data-root folder holding several DICOM series) it then
// enters that folder and opens the series whose description is SERIES_DESCRIPTION from the page's series list. The xunit test (tests/SamAdapt.Server.Tests/BrowserTests.cs) checks it.
import { chromium } from 'playwright-core'
import { join } from 'node:path'

const [url, outDir, volumeName, studyFolder, seriesDescription] = process.argv.slice(2)
const executablePath = process.env.SAMADAPT_CHROMIUM || '/usr/bin/chromium'
const browser = await chromium.launch({
  executablePath,
  args: ['--no-sandbox', '--disable-gpu', '--use-gl=swiftshader', '--enable-unsafe-swiftshader', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'],
})
const result = { errors: [] }
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 760 } })
  page.on('pageerror', (e) => result.errors.push(e.message))
  await page.goto(url)
  await page.waitForFunction(() => window.samadapt?.started, null, { timeout: 30000 })
  await page.click(`#browser-list li:text-is("${volumeName}")`)
  await page.waitForFunction(() => window.samadapt.ready, null, { timeout: 30000 })
  await page.waitForTimeout(300)
  await page.locator('#view').screenshot({ path: join(outDir, 'loaded.png') })

  await page.click('#tools button[data-tool=positive]')
  const box = await page.locator('#view').boundingBox()
  await page.mouse.click(box.x + box.width * 0.3, box.y + box.height * 0.3)
  await page.waitForFunction(() => window.samadapt.lastPrompt, null, { timeout: 60000 })
  await page.waitForTimeout(300)
  await page.locator('#view').screenshot({ path: join(outDir, 'clicked.png') })
  result.prompt = await page.evaluate(() => ({
    slice: window.samadapt.state.promptSlice,
    point: window.samadapt.state.points[0],
    voxels: window.samadapt.lastPrompt.slices.reduce((n, s) => n + s.voxels, 0),
    serverMs: window.samadapt.lastPrompt.serverMs,
  }))
  // more clicks over the image: each point's voxel (the page's mapping) with the intensity NiiVue shows there
  // (axial view: the whole canvas is one slice, and the clicks below land inside the volume)
  result.checks = []
  await page.click('[data-view=axial]')
  await page.waitForTimeout(300)
  for (const [fx, fy] of [[0.45, 0.35], [0.55, 0.5], [0.48, 0.62], [0.58, 0.4], [0.42, 0.55]]) {
    const before = await page.evaluate(() => window.samadapt.clicks ?? 0)
    await page.mouse.click(box.x + box.width * fx, box.y + box.height * fy)
    await page.waitForFunction((n) => (window.samadapt.clicks ?? 0) > n && window.samadapt.state.busy === 0, before, { timeout: 60000 })
    result.checks.push(await page.evaluate(() => ({
      point: window.samadapt.state.points.at(-1),
      slice: window.samadapt.state.promptSlice,
      value: window.samadapt.lastLocation?.values?.[0]?.value,
    })))
  }
  await page.click('#accept')
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('accepted'), null, { timeout: 30000 })
  result.accepted = await page.textContent('#status')

  await page.click('#auto')
  await page.waitForFunction(() => /automatic prediction (done|:)/.test(document.getElementById('status').textContent), null, { timeout: 120000 })
  result.auto = await page.textContent('#status')
  result.progress = await page.evaluate(() => [document.getElementById('auto-progress').value, document.getElementById('auto-progress').max])
  await page.waitForTimeout(300)
  await page.locator('#view').screenshot({ path: join(outDir, 'auto.png') })

  await page.fill('#save-path', 'out/e2e_labels.nii.gz')
  await page.click('#save')
  await page.waitForFunction(() => document.getElementById('status').textContent.startsWith('saved'), null, { timeout: 30000 })
  result.saved = await page.textContent('#status')
  await page.screenshot({ path: join(outDir, 'page.png') })

  if (studyFolder) {
    await page.evaluate(() => { window.samadapt.ready = false })
    await page.click(`#browser-list li:text-is("📁 ${studyFolder}")`)
    await page.waitForSelector('#browser-list li.series', { timeout: 30000 })
    result.seriesListed = await page.locator('#browser-list li.series').count()
    await page.click(`#browser-list li.series:has-text("${seriesDescription}")`)
    await page.waitForFunction(() => window.samadapt.ready, null, { timeout: 30000 })
    result.series = await page.evaluate(() => ({ shape: window.samadapt.state.volume.shape, dicom: window.samadapt.state.volume.dicom }))
  }
} catch (e) {
  result.errors.push(String(e.message || e))
} finally {
  await browser.close()
}
console.log(JSON.stringify(result))
