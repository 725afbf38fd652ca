/**
 * The surface of one label of a label volume as a triangle mesh in physical coordinates, by vtk.js's image
 * marching cubes on the label's binary mask (cropped to its bounding box, padded by one voxel so the surface
 * closes). vtk.js places points by spacing and origin only; keyslice applies the direction itself, and reverses
 * the triangles when the direction flips handedness, so normals always point out.
 */
import vtkDataArray from '@kitware/vtk.js/Common/Core/DataArray.js';
import vtkImageData from '@kitware/vtk.js/Common/DataModel/ImageData.js';
import vtkImageMarchingCubes from '@kitware/vtk.js/Filters/General/ImageMarchingCubes.js';
import vtkPolyData from '@kitware/vtk.js/Common/DataModel/PolyData.js';
import vtkWindowedSincPolyDataFilter from '@kitware/vtk.js/Filters/General/WindowedSincPolyDataFilter.js';
import type { LabelArray, Volume } from '../volume/volume.js';
import { quietlySync } from '../util/quiet.js';
import { clusterDecimate, type TriangleMesh } from './mesh.js';

export interface SurfaceOptions {
  /** Windowed-sinc smoothing iterations (default 0: none; 10 to 30 is gentle). */
  smoothing?: number;
  /** Vertex-clustering cell as a multiple of the smallest spacing (default 0: no decimation; 1.5 to 3 is usual). */
  decimate?: number;
}

/** The label's voxel bounding box [x0, x1, y0, y1, z0, z1], or null when absent. */
function bbox(vol: Volume<LabelArray>, label: number): number[] | null {
  const [nx, ny, nz] = vol.size;
  const b = [Infinity, -1, Infinity, -1, Infinity, -1];
  for (let z = 0, i = 0; z < nz; z++) for (let y = 0; y < ny; y++) for (let x = 0; x < nx; x++, i++) {
    if (vol.data[i] !== label) continue;
    if (x < b[0]) b[0] = x;
    if (x > b[1]) b[1] = x;
    if (y < b[2]) b[2] = y;
    if (y > b[3]) b[3] = y;
    if (z < b[4]) b[4] = z;
    if (z > b[5]) b[5] = z;
  }
  return b[1] < 0 ? null : b;
}

/** The closed surface of `label` in `vol`, mm in the volume's (LPS) frame; null when the label is absent. */
export function labelSurface(vol: Volume<LabelArray>, label: number, options: SurfaceOptions = {}): TriangleMesh | null {
  const b = bbox(vol, label);
  if (!b) return null;
  const [nx, ny] = vol.size;
  const dims = [b[1] - b[0] + 3, b[3] - b[2] + 3, b[5] - b[4] + 3];
  const mask = new Float32Array(dims[0] * dims[1] * dims[2]);
  for (let z = b[4]; z <= b[5]; z++) for (let y = b[2]; y <= b[3]; y++) for (let x = b[0]; x <= b[1]; x++) {
    if (vol.data[x + nx * (y + ny * z)] === label) mask[x - b[0] + 1 + dims[0] * (y - b[2] + 1 + dims[1] * (z - b[4] + 1))] = 1;
  }
  // Marching cubes in voxel units of the padded box; physical placement below.
  const image = vtkImageData.newInstance();
  image.setDimensions(...dims);
  image.setSpacing(1, 1, 1);
  image.setOrigin(0, 0, 0);
  image.getPointData().setScalars(vtkDataArray.newInstance({ numberOfComponents: 1, values: mask }));
  const mc = vtkImageMarchingCubes.newInstance({ contourValue: 0.5, computeNormals: false, mergePoints: true });
  mc.setInputData(image);
  // vtk.js times its marching cubes on the console: keep that off the terminal.
  let poly = quietlySync(() => mc.getOutputData());
  if ((options.smoothing ?? 0) > 0) {
    const smooth = vtkWindowedSincPolyDataFilter.newInstance({
      numberOfIterations: Math.round(options.smoothing as number),
      passBand: 0.1,
      featureEdgeSmoothing: 0,
      boundarySmoothing: 0,
      nonManifoldSmoothing: 0,
      normalizeCoordinates: 1,
    });
    smooth.setInputData(vtkPolyData.newInstance({ points: poly.getPoints(), polys: poly.getPolys() }));
    poly = quietlySync(() => smooth.getOutputData());
  }
  const vtkPoints = poly.getPoints().getData() as ArrayLike<number>;
  const cells = poly.getPolys().getData() as ArrayLike<number>;
  const points = new Float64Array(vtkPoints.length);
  const d = vol.direction;
  const s = vol.spacing;
  for (let i = 0; i < vtkPoints.length; i += 3) {
    const idx = [(vtkPoints[i] - 1 + b[0]) * s[0], (vtkPoints[i + 1] - 1 + b[2]) * s[1], (vtkPoints[i + 2] - 1 + b[4]) * s[2]];
    for (let r = 0; r < 3; r++) points[i + r] = vol.origin[r] + d[r * 3] * idx[0] + d[r * 3 + 1] * idx[1] + d[r * 3 + 2] * idx[2];
  }
  const det =
    d[0] * (d[4] * d[8] - d[5] * d[7]) - d[1] * (d[3] * d[8] - d[5] * d[6]) + d[2] * (d[3] * d[7] - d[4] * d[6]);
  const triangles: number[] = [];
  for (let i = 0; i < cells.length; ) {
    const n = cells[i];
    for (let k = 1; k + 1 < n; k++) {
      const [a, bb, c] = [cells[i + 1], cells[i + 1 + k], cells[i + 2 + k]];
      if (det < 0) triangles.push(a, c, bb);
      else triangles.push(a, bb, c);
    }
    i += n + 1;
  }
  let mesh: TriangleMesh = { points, triangles: Uint32Array.from(triangles) };
  if ((options.decimate ?? 0) > 0) mesh = clusterDecimate(mesh, (options.decimate as number) * Math.min(...s));
  return mesh;
}
