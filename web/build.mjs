// Bundles the page (src/viewer.js with NiiVue, index.html, CSS) into the server's static folder. Run by ./build.sh web.
import { build } from 'esbuild'
import { mkdirSync, copyFileSync, rmSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const out = join(here, '..', 'src', 'SamAdapt.Server', 'wwwroot')
rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
await build({
  entryPoints: [join(here, 'src', 'viewer.js')],
  bundle: true,
  format: 'esm',
  target: 'es2022',
  minify: true,
  sourcemap: false,
  outfile: join(out, 'viewer.js'),
  logLevel: 'warning',
})
copyFileSync(join(here, 'src', 'viewer.css'), join(out, 'viewer.css'))
copyFileSync(join(here, 'index.html'), join(out, 'index.html'))
console.log(`page bundled into ${out}`)
