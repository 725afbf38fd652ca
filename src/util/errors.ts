/**
 * Errors that keyslice reports to a user. Each carries a stable `code` (used for the CLI exit status and in
 * tests) and, where one is involved, the file it concerns, so that a message always names what went wrong and where.
 */
export type KeysliceErrorCode =
  | 'USAGE'
  | 'FILE_NOT_FOUND'
  | 'FILE_UNREADABLE'
  | 'UNSUPPORTED_IMAGE'
  | 'NON_FINITE_VOXELS'
  | 'TOO_LARGE'
  | 'GRID_MISMATCH'
  | 'DICOM_SERIES_GAP'
  | 'DICOM_MIXED_SERIES'
  | 'DICOM_SEVERAL_SERIES'
  | 'DICOM_SERIES_NOT_FOUND'
  | 'INVALID_PROMPTS'
  | 'INVALID_ANNOTATION'
  | 'INVALID_MODEL'
  | 'OUTPUT_CONFLICT'
  | 'WRITE_FAILED'
  | 'QUEUE_UNAVAILABLE';

/**
 * CLI exit status per error code: 2 for usage errors, 3 for input data problems, 4 for output problems, 5 when the
 * batch queue's Redis server cannot be reached.
 */
export const EXIT_CODES: Record<KeysliceErrorCode, number> = {
  USAGE: 2,
  FILE_NOT_FOUND: 3,
  FILE_UNREADABLE: 3,
  UNSUPPORTED_IMAGE: 3,
  NON_FINITE_VOXELS: 3,
  TOO_LARGE: 3,
  GRID_MISMATCH: 3,
  DICOM_SERIES_GAP: 3,
  DICOM_MIXED_SERIES: 3,
  DICOM_SEVERAL_SERIES: 3,
  DICOM_SERIES_NOT_FOUND: 3,
  INVALID_PROMPTS: 3,
  INVALID_ANNOTATION: 3,
  INVALID_MODEL: 3,
  OUTPUT_CONFLICT: 4,
  WRITE_FAILED: 4,
  QUEUE_UNAVAILABLE: 5,
};

export class KeysliceError extends Error {
  readonly code: KeysliceErrorCode;
  readonly file?: string;

  constructor(code: KeysliceErrorCode, message: string, file?: string, options?: { cause?: unknown }) {
    super(file !== undefined ? `${file}: ${message}` : message, options);
    this.name = 'KeysliceError';
    this.code = code;
    this.file = file;
  }
}
