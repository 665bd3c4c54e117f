/** serverless-offline ships no types; its `./lambda` export is the `Lambda` class (src/lambda/Lambda.js). */
declare module 'serverless-offline/lambda' {
  const Lambda: unknown;
  export default Lambda;
}
