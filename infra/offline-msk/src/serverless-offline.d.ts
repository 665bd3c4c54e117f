/** serverless-offline ships no types; its `serverless-offline/lambda` export is the `Lambda` class (serverless-offline/src/lambda/Lambda.js). */
declare module 'serverless-offline/lambda' {
  const Lambda: unknown;
  export default Lambda;
}
