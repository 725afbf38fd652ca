import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import dcmjs from 'dcmjs';

const { DicomMetaDictionary, DicomDict } = dcmjs.data;
const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';

export interface SeriesSpec {
  nx: number;
  ny: number;
  nz: number;
  /** [column spacing (x), row spacing (y), slice spacing], mm. */
  spacing: [number, number, number];
  origin: [number, number, number];
  /** Stored value of voxel (x, y, z); HU = stored - 1024. */
  value: (x: number, y: number, z: number) => number;
  /** Series UID (default: a new one) and description. */
  seriesUid?: string;
  description?: string;
  /** Slice indices not written (a missing file). */
  skip?: number[];
  /** Position of slice k (default: origin + k * spacing[2] along z). */
  position?: (k: number) => [number, number, number];
  /** Changes slice k's attributes before it is written (mixed series). */
  edit?: (k: number, ds: Record<string, unknown>) => void;
  /** Transfer syntax (default explicit VR little endian). */
  transferSyntax?: string;
  /** File name prefix (default "img"). */
  prefix?: string;
}

/** Writes an axial CT series, one file per slice, in shuffled file-name order. */
export function writeCtSeries(dir: string, s: SeriesSpec): string {
  const study = DicomMetaDictionary.uid();
  const series = s.seriesUid ?? DicomMetaDictionary.uid();
  for (let k = 0; k < s.nz; k++) {
    if (s.skip?.includes(k)) continue;
    const px = new Int16Array(s.nx * s.ny);
    for (let y = 0; y < s.ny; y++) for (let x = 0; x < s.nx; x++) px[x + s.nx * y] = s.value(x, y, k);
    const sop = DicomMetaDictionary.uid();
    const meta = {
      FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
      MediaStorageSOPClassUID: CT_IMAGE_STORAGE,
      MediaStorageSOPInstanceUID: sop,
      TransferSyntaxUID: s.transferSyntax ?? '1.2.840.10008.1.2.1',
      ImplementationClassUID: '1.2.826.0.1.3680043.10.1',
    };
    const ds: Record<string, unknown> = {
      SOPClassUID: CT_IMAGE_STORAGE,
      SOPInstanceUID: sop,
      StudyInstanceUID: study,
      SeriesInstanceUID: series,
      Modality: 'CT',
      PatientName: 'Phantom',
      PatientID: 'KS0001',
      InstanceNumber: k + 1,
      SeriesDescription: s.description ?? 'phantom CT',
      ImagePositionPatient: s.position ? s.position(k) : [s.origin[0], s.origin[1], s.origin[2] + s.spacing[2] * k],
      ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
      PixelSpacing: [s.spacing[1], s.spacing[0]],
      SliceThickness: s.spacing[2],
      Rows: s.ny,
      Columns: s.nx,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      BitsAllocated: 16,
      BitsStored: 16,
      HighBit: 15,
      PixelRepresentation: 1,
      RescaleIntercept: -1024,
      RescaleSlope: 1,
      PixelData: px.buffer,
      _vrMap: { PixelData: 'OW' },
    };
    s.edit?.(k, ds);
    const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
    dict.dict = DicomMetaDictionary.denaturalizeDataset(ds);
    // Names in reverse order: the reader must sort by position, not by name.
    writeFileSync(path.join(dir, `${s.prefix ?? 'img'}${String(s.nz - k).padStart(3, '0')}.dcm`), Buffer.from(dict.write()));
  }
  return series;
}
