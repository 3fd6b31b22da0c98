// The README's screenshot of the page, taken with the same tool as the browser tests.
// usage: node screenshot.mjs URL VOLUME_NAME OUT.png   (runs the automatic prediction first when a run is loaded)
import { chromium } from 'playwright-core'

const [url, volumeName, out] = process.argv.slice(2)
const browser = await chromium.launch({
  executablePath: process.env.SAMADAPT_CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox', '--disable-gpu', '--use-gl=swiftshader', '--enable-unsafe-swiftshader', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-quic'],
})
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 760 } })
  await page.goto(url)
  await page.waitForFunction(() => window.samadapt?.started, null, { timeout: 30000 })
  await page.click(`#browser-list li:text-is("${volumeName}")`)
  await page.waitForFunction(() => window.samadapt.ready, null, { timeout: 60000 })
  if (await page.isVisible('#auto')) {
    await page.click('#auto')
    await page.waitForFunction(() => /automatic prediction (done|:)/.test(document.getElementById('status').textContent), null, { timeout: 600000 })
  }
  await page.waitForTimeout(500)
  await page.screenshot({ path: out })
  console.log(await page.textContent('#status'))
} finally {
  await browser.close()
}
