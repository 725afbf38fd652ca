/** `keyslice info`: what keyslice reads from an image (grid, geometry, intensity range), or a folder's DICOM series. */
import { readVolume } from '../volume/io-node.js';
import { listDicomSeries } from '../volume/dicom/read-series-node.js';
import { formatSeriesList } from '../volume/dicom/series.js';
import { need, parse, READ_FLAGS, readOptions } from './args.js';

export async function cmdInfo(args: string[]): Promise<void> {
  const v = parse(args, { image: { type: 'string' }, json: { type: 'boolean' }, 'list-series': { type: 'boolean' }, ...READ_FLAGS });
  const image = need(v, 'image');
  if (v['list-series']) {
    const list = await listDicomSeries(image);
    if (v.json) console.log(JSON.stringify(list, null, 2));
    else console.log(list.length ? formatSeriesList(list) : 'no DICOM image series');
    return;
  }
  const notes: string[] = [];
  const vol = await readVolume(image, { ...readOptions(v), notes });
  for (const n of notes) process.stderr.write(`note: ${n}\n`);
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < vol.data.length; i++) {
    const x = vol.data[i];
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const info = {
    size: vol.size,
    spacing: vol.spacing,
    origin: vol.origin,
    direction: vol.direction,
    voxelType: vol.data.constructor.name.replace('Array', ''),
    range: [min, max],
  };
  if (v.json) {
    console.log(JSON.stringify(info, null, 2));
    return;
  }
  const r = (a: readonly number[]) => a.map((x) => +x.toFixed(4)).join(' x ');
  console.log(`size     ${vol.size.join(' x ')} voxels`);
  console.log(`spacing  ${r(vol.spacing)} mm`);
  console.log(`origin   ${vol.origin.map((x) => +x.toFixed(4)).join(', ')} mm (LPS)`);
  console.log(`direction ${vol.direction.map((x) => +x.toFixed(4)).join(' ')}`);
  console.log(`voxels   ${info.voxelType}, ${min} .. ${max}`);
}
