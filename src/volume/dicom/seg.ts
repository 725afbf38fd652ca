/**
 * DICOM Segmentation objects, the parts that need neither Node nor a file: dcmqi's meta-information for one
 * segment per label, and the int16 image of segment numbers that @itk-wasm/dicom's writeSegmentation takes.
 * Node (seg-node.ts) and the annotation app write a DICOM SEG from these.
 */
import type { LabelInfo } from '../../labels/label-table.js';
import type { LabelArray, Volume } from '../volume.js';

/** SNOMED CT "Tissue" (85756007): the generic segmented property keyslice gives a segment it knows only by name. */
const TISSUE = { CodeValue: '85756007', CodingSchemeDesignator: 'SCT', CodeMeaning: 'Tissue' };

/** The dcmqi meta-information of a segmentation with one segment per label (labelID = segment number). */
export function segMetaInfo(infos: readonly LabelInfo[], description = 'keyslice segmentation'): Record<string, unknown> {
  return {
    ContentCreatorName: 'keyslice',
    ContentLabel: 'SEGMENTATION',
    ContentDescription: description.slice(0, 64),
    ClinicalTrialSeriesID: '1',
    ClinicalTrialTimePointID: '1',
    SeriesDescription: description.slice(0, 64),
    SeriesNumber: '300',
    InstanceNumber: '1',
    BodyPartExamined: '',
    segmentAttributes: [
      infos.map((l, i) => ({
        labelID: i + 1,
        SegmentLabel: l.name.slice(0, 64),
        SegmentDescription: l.name.slice(0, 64),
        SegmentAlgorithmType: 'SEMIAUTOMATIC',
        SegmentAlgorithmName: 'keyslice',
        SegmentedPropertyCategoryCodeSequence: TISSUE,
        SegmentedPropertyTypeCodeSequence: TISSUE,
        recommendedDisplayRGBValue: [...l.color],
      })),
    ],
  };
}

/**
 * The image a DICOM SEG is written from: each voxel's segment number (1..n in the order of `infos`, 0 for
 * background and labels not in `infos`) on the labels' grid, and notes for the user on renumbered and empty
 * labels (`shownAs` names the output in them).
 */
export function segLabelImage(labels: Volume<LabelArray>, infos: readonly LabelInfo[], shownAs: string): { image: Volume<Int16Array>; notes: string[] } {
  const notes: string[] = [];
  const segNumber = new Map(infos.map((l, i) => [l.value, i + 1]));
  if (infos.some((l, i) => l.value !== i + 1)) {
    notes.push(`${shownAs}: DICOM SEG numbers segments 1..${infos.length}: ${infos.map((l, i) => `label ${l.value} is segment ${i + 1}`).join(', ')}`);
  }
  const data = new Int16Array(labels.data.length);
  const present = new Set<number>();
  for (let i = 0; i < data.length; i++) {
    const v = labels.data[i];
    if (v !== 0) {
      data[i] = segNumber.get(v) ?? 0;
      present.add(v);
    }
  }
  const empty = infos.filter((l) => !present.has(l.value));
  if (empty.length) notes.push(`${shownAs}: ${empty.map((l) => `label ${l.value} (${l.name})`).join(', ')} holds no voxel and has no segment in the DICOM SEG`);
  return { image: { size: labels.size, spacing: labels.spacing, origin: labels.origin, direction: labels.direction, data }, notes };
}
