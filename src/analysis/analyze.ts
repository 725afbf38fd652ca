/**
 * `keyslice analyze` as a library call: the similarity profile of a volume along its slice axis, over whole
 * slices and, for each annotated object, over its region of interest (the same region the propagation uses).
 */
import type { Annotations } from '../annotations/types.js';
import { roiOfLabel } from '../propagation/roi.js';
import { SliceGeometry, type SliceAxis, type Volume } from '../volume/volume.js';
import { regionProfile, tissueBox, type ProfileOptions, type RegionProfile } from './profile.js';
import { intensityWindow, type IntensityWindow } from './window.js';

export interface LabelProfile {
  value: number;
  name?: string;
  keySlices: number[];
  profile: RegionProfile;
}

export interface Analysis {
  sliceAxis: SliceAxis;
  /** Slices along the axis, and their spacing in mm. */
  count: number;
  sliceSpacingMm: number;
  window: IntensityWindow;
  /** Over the scanned tissue: the in-plane box holding every voxel above the tissue level on any slice. */
  whole: RegionProfile;
  labels: LabelProfile[];
}

export interface AnalyzeOptions extends ProfileOptions {
  /** Intensity window (default: chosen from the image, see `intensityWindow`). */
  window?: IntensityWindow;
}

/** Profiles `image` along `axis`; with annotations, also each labelled object's region. */
export function analyzeVolume(image: Volume, axis: SliceAxis, annotations: Annotations | null, options: AnalyzeOptions = {}): Analysis {
  const sg = new SliceGeometry(image, axis);
  const window = options.window ?? intensityWindow(image);
  const labels: LabelProfile[] = [];
  for (const l of annotations?.labels ?? []) {
    const roi = roiOfLabel(l.keySlices, sg);
    if (!roi) continue;
    labels.push({
      value: l.value,
      ...(l.name !== undefined ? { name: l.name } : {}),
      keySlices: l.keySlices.map((k) => k.index),
      profile: regionProfile(image, sg, window, roi, options),
    });
  }
  const tissue = tissueBox(image, sg, window);
  return { sliceAxis: axis, count: sg.count, sliceSpacingMm: sg.dw, window, whole: regionProfile(image, sg, window, tissue, options), labels };
}
