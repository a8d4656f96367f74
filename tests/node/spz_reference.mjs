// The reference .spz encoder/decoder (nianticlabs/spz compiled to WebAssembly, npm @adobe/spz, installed with
// @playcanvas/splat-transform by scripts/setup_node_tools.sh), driven from the tests.
//
//   node spz_reference.mjs write FOLDER OUT.spz VERSION   FOLDER holds meta.json {count, sh_degree} and float32
//                                                         little-endian positions.bin (xyz), scales.bin (log),
//                                                         rotations.bin (x, y, z, w), alphas.bin (logit),
//                                                         colors.bin (SH band 0), sh.bin (coefficient-major,
//                                                         colour-inner); no coordinate conversion
//   node spz_reference.mjs read IN.spz FOLDER              the same files, decoded by the reference
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(process.env.SAGA_NODE_MODULES ? join(process.env.SAGA_NODE_MODULES, 'x.js') : import.meta.url);
const { default: createModule } = await import(require.resolve('@adobe/spz'));
const spz = await createModule();
const FIELDS = ['positions', 'scales', 'rotations', 'alphas', 'colors', 'sh'];
const [command, a, b, version] = process.argv.slice(2);

const floats = (path) => {
    const buf = readFileSync(path);
    return new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4).slice();
};

if (command === 'write') {
    const meta = JSON.parse(readFileSync(join(a, 'meta.json'), 'utf8'));
    const cloud = { numPoints: meta.count, shDegree: meta.sh_degree, antialiased: false, extensions: [] };
    for (const f of FIELDS) cloud[f] = floats(join(a, `${f}.bin`));
    const bytes = spz.saveSpzToBuffer(cloud, {
        version: Number(version), from: spz.CoordinateSystem.UNSPECIFIED, sh1Bits: 5, shRestBits: 4
    });
    writeFileSync(b, bytes);
} else if (command === 'read') {
    const cloud = spz.loadSpzFromBuffer(readFileSync(a), { to: spz.CoordinateSystem.UNSPECIFIED });
    mkdirSync(b, { recursive: true });
    writeFileSync(join(b, 'meta.json'), JSON.stringify({ count: cloud.numPoints, sh_degree: cloud.shDegree }));
    for (const f of FIELDS) writeFileSync(join(b, `${f}.bin`), Buffer.from(cloud[f].buffer, cloud[f].byteOffset, cloud[f].byteLength));
} else {
    console.error('usage: spz_reference.mjs write FOLDER OUT.spz VERSION | read IN.spz FOLDER');
    process.exit(2);
}
