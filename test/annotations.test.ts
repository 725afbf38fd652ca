import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildAnnotations, parseKeySliceList } from '../src/annotations/build.js';
import { parsePrompts, parsePromptsText } from '../src/annotations/prompts.js';
import { ellipseInBox, promptMask } from '../src/annotations/rasterize.js';
import { KeysliceError } from '../src/util/errors.js';
import { withGeometry, type Geometry } from '../src/volume/volume.js';

const grid: Geometry = { size: [6, 5, 8], spacing: [1, 1, 3], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };

function sparse(): Uint8Array {
  const d = new Uint8Array(6 * 5 * 8);
  const set = (x: number, y: number, z: number, v: number) => (d[x + 6 * (y + 5 * z)] = v);
  set(1, 1, 2, 1);
  set(2, 1, 2, 1);
  set(4, 3, 2, 2);
  set(2, 2, 5, 1);
  return d;
}

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof KeysliceError) return `${err.code}: ${err.message}`;
    throw err;
  }
  return 'no error';
}

describe('key-slice lists', () => {
  it('parses lists, ranges and auto', () => {
    assert.deepEqual(parseKeySliceList('9,3,15'), [3, 9, 15]);
    assert.deepEqual(parseKeySliceList('3-5,9'), [3, 4, 5, 9]);
    assert.equal(parseKeySliceList('auto'), 'auto');
    assert.match(code(() => parseKeySliceList('3,x')), /USAGE.*"x"/);
    assert.match(code(() => parseKeySliceList('-1')), /USAGE/);
  });
});

describe('sparse label volume', () => {
  it('listed slices are annotated; a listed slice without label L says L is absent', () => {
    const { annotations, warnings } = buildAnnotations(grid, {
      sparse: { volume: withGeometry(grid, sparse()), file: 's.nii', keySlices: [2, 5, 7] },
    });
    assert.equal(annotations.axis, 2);
    const [l1, l2] = annotations.labels;
    assert.deepEqual(l1.keySlices.map((k) => [k.index, k.empty]), [[2, false], [5, false], [7, true]]);
    assert.equal(l1.keySlices[0].mask?.reduce((a, b) => a + b, 0), 2);
    assert.deepEqual(l2.keySlices.map((k) => [k.index, k.empty]), [[2, false], [5, true], [7, true]]);
    assert.deepEqual(warnings, []);
  });

  it('auto lists every slice holding a label voxel, and voxels off the list are reported', () => {
    const { annotations } = buildAnnotations(grid, { sparse: { volume: withGeometry(grid, sparse()), file: 's', keySlices: 'auto' } });
    assert.deepEqual(annotations.labels[0].keySlices.map((k) => k.index), [2, 5]);
    const { warnings } = buildAnnotations(grid, { sparse: { volume: withGeometry(grid, sparse()), file: 's', keySlices: [2] } });
    assert.match(warnings[0], /1 label voxel\(s\) lie outside the listed key slices/);
  });

  it('refuses out-of-range key slices, mismatched grids and empty annotations', () => {
    const vol = withGeometry(grid, sparse());
    assert.match(code(() => buildAnnotations(grid, { sparse: { volume: vol, file: 's.nii', keySlices: [2, 8] } })),
      /INVALID_ANNOTATION: s\.nii: key slice 8 is out of range 0\.\.7 along axis 2/);
    const other = withGeometry({ ...grid, spacing: [1, 1, 2.5] }, sparse());
    assert.match(code(() => buildAnnotations(grid, { sparse: { volume: other, file: 's.nii', keySlices: 'auto' }, imageFile: 'img.nii' })),
      /GRID_MISMATCH: s\.nii: annotation grid does not match the image img\.nii: spacing differs/);
    assert.match(code(() => buildAnnotations(grid, { sparse: { volume: withGeometry(grid, new Uint8Array(240)), file: 's', keySlices: 'auto' } })),
      /holds no label voxel/);
  });

  it('follows an explicit slice axis', () => {
    const { annotations } = buildAnnotations(grid, { sparse: { volume: withGeometry(grid, sparse()), file: 's', keySlices: 'auto' }, axis: 0 });
    assert.equal(annotations.axis, 0);
    assert.deepEqual(annotations.labels[0].keySlices.map((k) => [k.index, k.empty]), [[1, false], [2, false], [4, true]]);
    assert.equal(annotations.labels[0].keySlices[0].mask?.length, 5 * 8);
  });
});

describe('prompts file', () => {
  const doc = {
    version: 1,
    labels: [
      { value: 3, name: 'lesion', color: [255, 0, 0], keySlices: [{ slice: 4, box: [1, 1, 3, 2] }, { slice: 6, empty: true }] },
      { value: 1, name: 'organ', keySlices: [{ slice: 2, points: [[2, 2]], negativePoints: [[0, 0]] }] },
    ],
    keySlices: [{ label: 'organ', slice: 7, box: [0, 0, 5, 4] }],
  };

  it('parses labels, flat key slices by name, and sorts them', () => {
    const p = parsePrompts(structuredClone(doc));
    assert.deepEqual(p.labels.map((l) => l.value), [1, 3]);
    assert.deepEqual(p.labels[0].keySlices.map((k) => k.slice), [2, 7]);
    const { annotations } = buildAnnotations(grid, { prompts: { doc: p, file: 'p.json' } });
    assert.equal(annotations.labels[1].color?.[0], 255);
    assert.deepEqual(annotations.labels[1].keySlices[0].box, [1, 1, 3, 2]);
    assert.equal(annotations.labels[1].keySlices[1].empty, true);
  });

  it('names the offending field in every error', () => {
    const bad = (mut: (d: Record<string, unknown>) => void) => {
      const d = structuredClone(doc) as unknown as Record<string, unknown>;
      mut(d);
      return code(() => parsePrompts(d, 'p.json'));
    };
    const labels = (d: Record<string, unknown>) => d.labels as Record<string, unknown>[];
    assert.match(bad((d) => (d.version = 2)), /INVALID_PROMPTS: p\.json: version: must be 1/);
    assert.match(bad((d) => (labels(d)[0].value = 0)), /labels\[0\]\.value: must be >= 1/);
    assert.match(bad((d) => (labels(d)[0].keySlices = [{ slice: 1, box: [3, 1, 1, 2] }])), /labels\[0\]\.keySlices\[0\]\.box: corners/);
    assert.match(bad((d) => (labels(d)[1].keySlices = [{ slice: 1, points: [[1]] }])), /labels\[1\]\.keySlices\[0\]\.points\[0\]: must be \[i, j\]/);
    assert.match(bad((d) => (labels(d)[1].keySlices = [{ slice: 1 }])), /needs a "box", "boxes", "points"/);
    assert.match(bad((d) => (labels(d)[1].keySlices = [{ slice: 1, empty: true, box: [0, 0, 1, 1] }])), /cannot be combined/);
    assert.match(bad((d) => (labels(d)[1].colour = [1, 2, 3])), /labels\[1\]: unknown field "colour"/);
    assert.match(bad((d) => ((d.keySlices as Record<string, unknown>[])[0].label = 'liver')),
      /keySlices\[0\]\.label: unknown label "liver"; defined labels: 3 \(lesion\), 1 \(organ\)/);
    assert.match(bad((d) => (labels(d)[1].value = 3)), /label 3 is defined twice/);
    assert.match(code(() => parsePromptsText('{"version": 1,', 'p.json')), /p\.json: not valid JSON/);
  });

  it('refuses key slices and prompts outside the image', () => {
    const build = (ks: unknown) =>
      code(() => buildAnnotations(grid, { prompts: { doc: parsePrompts({ version: 1, labels: [{ value: 1, keySlices: [ks] }] }), file: 'p.json' } }));
    assert.match(build({ slice: 8, box: [0, 0, 1, 1] }), /p\.json: label 1, slice 8: key slice is out of range 0\.\.7 along axis 2/);
    assert.match(build({ slice: 1, box: [0, 0, 6, 1] }), /box corner \[6,1\] lies outside the slice \(i 0\.\.5, j 0\.\.4\)/);
    assert.match(build({ slice: 1, points: [[2, 5]] }), /point \[2,5\] lies outside the slice/);
    assert.match(build({ slice: 1, empty: true }), /has no key slice showing the object/);
  });

  it('combines with a sparse volume, and refuses a contradiction between them', () => {
    const p = parsePrompts({ version: 1, labels: [{ value: 1, keySlices: [{ slice: 6, box: [0, 0, 2, 2] }] }, { value: 2, keySlices: [{ slice: 5, box: [0, 0, 1, 1] }] }] });
    const sp = { volume: withGeometry(grid, sparse()), file: 's.nii', keySlices: [2] };
    const { annotations } = buildAnnotations(grid, { sparse: sp, prompts: { doc: p, file: 'p.json' } });
    assert.deepEqual(annotations.labels[0].keySlices.map((k) => k.index), [2, 6]);
    const clash = parsePrompts({ version: 1, labels: [{ value: 2, keySlices: [{ slice: 5, box: [0, 0, 1, 1] }] }] });
    assert.match(code(() => buildAnnotations(grid, { sparse: { ...sp, keySlices: [2, 5] }, prompts: { doc: clash, file: 'p.json' } })),
      /disagree on whether the object is present/);
    assert.match(code(() => buildAnnotations(grid, { prompts: { doc: p, file: 'p.json' }, axis: 1 })), /./);
  });
});

describe('image-free prompt masks', () => {
  it('a box becomes its inscribed ellipse touching all four sides', () => {
    const m = ellipseInBox(10, 10, [2, 3, 8, 5]);
    assert.equal(m[5 + 10 * 4], 1); // centre
    assert.equal(m[2 + 10 * 4], 1); // left middle
    assert.equal(m[5 + 10 * 3], 1); // top middle
    assert.equal(m[2 + 10 * 3], 0); // corner
    assert.equal(m[1 + 10 * 4], 0); // outside
  });

  it('points become discs, negative points clear them', () => {
    const m = promptMask({ index: 0, empty: false, points: [[4, 4]], negativePoints: [[7, 4]] }, 10, 10);
    assert.ok(m);
    assert.equal(m[4 + 40], 1);
    assert.equal(m[6 + 40], 0); // inside the positive disc, cleared by the negative one
    assert.equal(m[3 + 40], 1);
    assert.equal(promptMask({ index: 0, empty: true, points: [], negativePoints: [] }, 4, 4), null);
  });
});
