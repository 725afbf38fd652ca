// vtk.js ships no declarations for these modules; keyslice uses a small part of their API.
declare module '@kitware/vtk.js/Common/DataModel/ImageData.js' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const m: { newInstance(init?: object): any };
  export default m;
}
declare module '@kitware/vtk.js/Common/DataModel/PolyData.js' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const m: { newInstance(init?: object): any };
  export default m;
}
declare module '@kitware/vtk.js/Common/Core/DataArray.js' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const m: { newInstance(init?: object): any };
  export default m;
}
declare module '@kitware/vtk.js/Filters/General/ImageMarchingCubes.js' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const m: { newInstance(init?: object): any };
  export default m;
}
declare module '@kitware/vtk.js/Filters/General/WindowedSincPolyDataFilter.js' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const m: { newInstance(init?: object): any };
  export default m;
}
declare module '@kitware/vtk.js/IO/Geometry/STLWriter.js' {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  const m: { newInstance(init?: object): any };
  export default m;
}
