/**
 * The app's view of the scan: NiiVue on a canvas, its drawing layer holding the labels (key slices and the
 * propagated result) as a RAS-ordered bitmap, pen tools, slice navigation, windowing and layouts.
 */
import { Niivue, PEN_TYPE, SLICE_TYPE } from '@niivue/niivue';
import type { RasLayout } from '../ras.js';
import type { Vec3, Volume, VoxelArray } from '../../volume/volume.js';

export type Tool = 'pen' | 'fill' | 'erase' | 'box' | 'point' | 'negative' | 'navigate';
export type Layout = 'axial' | 'coronal' | 'sagittal' | 'multiplanar' | '3d';

/** Pen value the box tool draws with (read back as the box, then cleared): never a label of the app. */
export const BOX_PEN = 255;

/** A box prompt to outline: its outer corners in RAS voxel coordinates, its label's colour, whether selected. */
export interface BoxOutline {
  corners: [Vec3, Vec3];
  color: [number, number, number];
  selected: boolean;
}

const SLICE_TYPES: Record<Layout, SLICE_TYPE> = {
  axial: SLICE_TYPE.AXIAL,
  coronal: SLICE_TYPE.CORONAL,
  sagittal: SLICE_TYPE.SAGITTAL,
  multiplanar: SLICE_TYPE.MULTIPLANAR,
  '3d': SLICE_TYPE.RENDER,
};

export class Viewer {
  readonly nv: Niivue;
  private outlines: BoxOutline[] = [];
  /** NiiVue's view (0 axial, 1 coronal, 2 sagittal) whose tiles show the key slices' plane. */
  private plane = 0;
  /** The rectangles (CSS pixels: left, top, right, bottom) outlined at the last draw, in `outlines` order. */
  boxRects: ([number, number, number, number] | null)[] = [];

  private constructor(
    nv: Niivue,
    private readonly overlay: HTMLCanvasElement | null,
  ) {
    this.nv = nv;
    // The outlines follow every redraw of the view (slice changes, zoom, pan, layout, resize).
    const draw = nv.drawScene.bind(nv);
    nv.drawScene = () => {
      const r = draw();
      this.drawOutlines();
      return r;
    };
  }

  /** A viewer on `canvas`; box prompts are outlined on `overlay`, a 2D canvas laid over it. */
  static async create(canvas: HTMLCanvasElement, overlay: HTMLCanvasElement | null = null): Promise<Viewer> {
    const nv = new Niivue({ backColor: [0.08, 0.08, 0.1, 1], dragAndDropEnabled: false, show3Dcrosshair: true, crosshairWidth: 1, crosshairColor: [0.3, 0.8, 1, 0.6], isRadiologicalConvention: false, logLevel: 'error' } as ConstructorParameters<typeof Niivue>[0]);
    await nv.attachToCanvas(canvas);
    return new Viewer(nv, overlay);
  }

  /** Outlines these boxes from now on; `rasAxis` is the RAS axis across the key slices (0 R, 1 A, 2 S). */
  setBoxes(outlines: BoxOutline[], rasAxis: 0 | 1 | 2): void {
    this.outlines = outlines;
    this.plane = 2 - rasAxis;
    this.drawOutlines();
  }

  /** Draws the box outlines on the overlay, in the tiles that show the key slices' plane. */
  private drawOutlines(): void {
    const o = this.overlay;
    const gl = this.nv.canvas;
    if (!o || !gl) return;
    if (o.width !== gl.width || o.height !== gl.height) [o.width, o.height] = [gl.width, gl.height];
    const ctx = o.getContext('2d');
    if (!ctx) return;
    ctx.clearRect(0, 0, o.width, o.height);
    const dpr = this.nv.uiData.dpr ?? 1;
    this.boxRects = this.outlines.map(({ corners: [a, b], color, selected }) => {
      const at: number[][] = [];
      // Every corner (the two corners agree across the slice, so these are the box's four).
      for (let m = 0; m < 8; m++) {
        const p = [0, 1, 2].map((r) => ((m >> r) & 1 ? b[r] : a[r]));
        const hit = this.nv.frac2canvasPosWithTile(this.nv.vox2frac(p as never), this.plane as SLICE_TYPE);
        if (hit) at.push(hit.pos);
      }
      if (at.length < 2) return null;
      const [x0, x1] = [Math.min(...at.map((q) => q[0])), Math.max(...at.map((q) => q[0]))];
      const [y0, y1] = [Math.min(...at.map((q) => q[1])), Math.max(...at.map((q) => q[1]))];
      if (x1 - x0 < 1 || y1 - y0 < 1) return null;
      if (selected) {
        ctx.lineWidth = 4 * dpr;
        ctx.strokeStyle = 'rgba(255,255,255,0.9)';
        ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
      }
      ctx.lineWidth = (selected ? 2 : 1.5) * dpr;
      ctx.strokeStyle = `rgb(${color.join(',')})`;
      ctx.strokeRect(x0, y0, x1 - x0, y1 - y0);
      return [x0 / dpr, y0 / dpr, x1 / dpr, y1 / dpr];
    });
  }

  async load(name: string, bytes: Uint8Array): Promise<void> {
    while (this.nv.volumes.length > 0) this.nv.removeVolume(this.nv.volumes[0]);
    const buffer = bytes.slice().buffer;
    await this.nv.loadFromArrayBuffer(buffer, name);
    this.nv.setInterpolation(true);
    this.nv.createEmptyDrawing();
    this.nv.setDrawingEnabled(true);
    this.nv.setDrawOpacity(0.6);
  }

  /** The RAS layout NiiVue chose for the loaded image (its drawing bitmap's order). */
  layout(): RasLayout {
    const v = this.nv.volumes[0];
    const dims = v.dimsRAS as number[];
    const perm = v.permRAS as number[];
    const start = v.img2RASstart as number[];
    return {
      dims: [dims[1], dims[2], dims[3]],
      axisOf: perm.map((p) => Math.abs(p) - 1) as [0 | 1 | 2, 0 | 1 | 2, 0 | 1 | 2],
      flip: perm.map((p) => p < 0) as [boolean, boolean, boolean],
      start: start[0] + start[1] + start[2],
      step: [...(v.img2RASstep as number[])] as Vec3,
    };
  }

  get bitmap(): Uint8Array {
    return this.nv.drawBitmap as Uint8Array;
  }

  /** Shows the bitmap as it now is (after the app wrote into it). */
  refresh(): void {
    this.nv.refreshDrawing(true);
  }

  /** Label colours of the drawing layer (hidden labels transparent). */
  setColors(labels: readonly { value: number; color: [number, number, number]; visible: boolean }[]): void {
    const R = new Array<number>(256).fill(0);
    const G = new Array<number>(256).fill(0);
    const B = new Array<number>(256).fill(0);
    const A = new Array<number>(256).fill(0);
    for (const l of labels) {
      R[l.value] = l.color[0];
      G[l.value] = l.color[1];
      B[l.value] = l.color[2];
      A[l.value] = l.visible ? 255 : 0;
    }
    R[BOX_PEN] = 255;
    G[BOX_PEN] = 255;
    B[BOX_PEN] = 255;
    A[BOX_PEN] = 160;
    this.nv.setDrawColormap({ R, G, B, A, I: R.map((_, i) => i) } as unknown as string);
  }

  setOpacity(preview: boolean): void {
    this.nv.setDrawOpacity(preview ? 0.45 : 0.75);
  }

  setTool(tool: Tool, label: number, size: number, locked: boolean): void {
    const nv = this.nv;
    const drawing = !locked && (tool === 'pen' || tool === 'fill' || tool === 'erase' || tool === 'box');
    nv.setDrawingEnabled(drawing);
    nv.opts.penSize = size;
    nv.opts.penType = tool === 'box' ? PEN_TYPE.RECTANGLE : PEN_TYPE.PEN;
    if (tool === 'erase') nv.setPenValue(0, false);
    else if (tool === 'box') nv.setPenValue(BOX_PEN, true);
    else nv.setPenValue(label, tool === 'fill');
  }

  setLayout(layout: Layout): void {
    this.nv.setSliceType(SLICE_TYPES[layout]);
  }

  /** The RAS voxel under the crosshair. */
  crosshairRas(): Vec3 {
    const v = this.nv.frac2vox(this.nv.scene.crosshairPos as never);
    return [Math.round(v[0]), Math.round(v[1]), Math.round(v[2])];
  }

  /** The RAS voxel under a canvas position (CSS pixels), or null off the image. */
  voxelAt(x: number, y: number): Vec3 | null {
    const dpr = this.nv.uiData.dpr ?? 1;
    const frac = this.nv.canvasPos2frac([x * dpr, y * dpr]);
    if (frac[0] < 0) return null;
    const v = this.nv.frac2vox(frac);
    return [Math.round(v[0]), Math.round(v[1]), Math.round(v[2])];
  }

  /** Moves the crosshair to RAS index `index` along RAS axis `rasAxis`. */
  goTo(rasAxis: number, index: number): void {
    const vox = this.crosshairRas();
    vox[rasAxis] = index;
    this.nv.scene.crosshairPos = this.nv.vox2frac(vox as never);
    this.nv.updateGLVolume();
    this.nv.drawScene();
  }

  setWindow(min: number, max: number): void {
    const v = this.nv.volumes[0];
    v.cal_min = min;
    v.cal_max = max;
    this.nv.updateGLVolume();
  }

  windowRange(): [number, number] {
    const v = this.nv.volumes[0];
    return [v.cal_min ?? 0, v.cal_max ?? 1];
  }

  /**
   * The loaded image as a volume, as NiiVue read it (voxels in file order, geometry from its voxel-to-RAS matrix
   * turned into LPS): how the in-page engine gets formats other than NIfTI.
   */
  volume(): Volume {
    const v = this.nv.volumes[0];
    const hdr = v.hdr as unknown as { dims: number[]; affine: number[][]; scl_slope?: number; scl_inter?: number };
    const a = hdr.affine;
    const size: Vec3 = [hdr.dims[1], hdr.dims[2], hdr.dims[3]];
    const spacing = [0, 1, 2].map((c) => Math.hypot(a[0][c], a[1][c], a[2][c]) || 1) as Vec3;
    const sign = [-1, -1, 1];
    const direction: number[] = [];
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) direction.push((sign[r] * a[r][c]) / spacing[c]);
    const origin = [0, 1, 2].map((r) => sign[r] * a[r][3]) as Vec3;
    const img = v.img as unknown as VoxelArray;
    const n = size[0] * size[1] * size[2];
    const slope = Number.isFinite(hdr.scl_slope) && hdr.scl_slope !== 0 ? (hdr.scl_slope as number) : 1;
    const inter = Number.isFinite(hdr.scl_inter) ? (hdr.scl_inter as number) : 0;
    let data: VoxelArray = img.slice(0, n);
    if (slope !== 1 || inter !== 0) data = Float32Array.from(data, (x) => x * slope + inter);
    return { size, spacing, origin, direction, data };
  }

  /** The image's voxels (for percentile windows). */
  voxels(): ArrayLike<number> {
    return this.nv.volumes[0].img as ArrayLike<number>;
  }

  /** Canvas position (CSS pixels) of a point in RAS millimetres on the current view, or null when off screen. */
  canvasPointOfMm(mm: Vec3): [number, number] | null {
    const frac = this.nv.mm2frac(mm as never);
    const p = this.nv.frac2canvasPos(frac);
    if (!p) return null;
    const dpr = this.nv.uiData.dpr ?? 1;
    return [p[0] / dpr, p[1] / dpr];
  }

  /** A PNG of the canvas (for screenshots). */
  onLocation(f: () => void): void {
    this.nv.onLocationChange = f;
  }
}
