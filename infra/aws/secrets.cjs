'use strict';
/**
 * The values the functions keep out of their configuration (custom.secrets in
 * serverless.yml): for each variable, where its Secrets Manager secret is and which
 * functions read it.
 *
 *   custom.secrets.<VARIABLE>: {
 *     secret: generate | <off> | <secret ARN>,  generate: a secret of this stack (48 random
 *                                                characters); <off> (`none` unless `off` says
 *                                                otherwise): no secret; an ARN: an existing one
 *     functions: [<function>, ...] | all,        the only functions that get its ARN and may read it
 *     describes: <text>,                         what it holds (the generated secret's description)
 *     off: <word>,                               the word that means "no secret" (default none)
 *     generate: false,                           the stack cannot make it (a password the cluster must know)
 *     kmsKeyArn: <key ARN> | '',                 the customer managed key the secret is encrypted with
 *     offNeeds: { <VARIABLE>: <value>, ... },    on a deployed stage, the off word only where each
 *                                                reader's environment has these (going without
 *                                                the secret on purpose, not by a slip)
 *   }
 *
 * A function that reads it gets `<VARIABLE>_SECRET_ARN` (serverless.yml:
 * `${file(./infra/aws/secrets.cjs):arn.<VARIABLE>}`), `secretsmanager:GetSecretValue` on that
 * one secret and, with a key, `kms:Decrypt` through Secrets Manager only; src/secrets.ts
 * reads the value at run time. The plain variable is for `serverless offline` only: a
 * non-empty one anywhere in a deployed stage's configuration is refused, since Lambda shows
 * every variable to whoever may read the function's configuration.
 */
const { isDict, failer, checkovSkips, statement, pascal } = require('./cfn.cjs');

const fail = failer('secrets.cjs');
const SECRET_ARN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:.+$/;
const KMS_KEY_ARN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/.+$/;

/** The secret's logical id when the stack makes it: ADMIN_TOKEN -> AdminTokenSecret. */
function secretLogicalId(variable) {
  return `${pascal(variable)}Secret`;
}

/** One entry of custom.secrets, checked: { variable, mode, arn, functions, describes, kmsKeyArn }. */
function secretSetting(variable, settings, functionKeys) {
  const where = `custom.secrets.${variable}`;
  if (!isDict(settings) || typeof settings.secret !== 'string') fail(`${where}: expected { secret, functions, describes }`);
  const off = settings.off || 'none';
  const canGenerate = settings.generate !== false;
  const words = `${canGenerate ? '"generate", ' : ''}"${off}" or a Secrets Manager secret ARN`;
  let functions = settings.functions;
  if (functions === 'all') functions = functionKeys;
  if (!Array.isArray(functions) || functions.length === 0) fail(`${where}.functions: a list of functions, or all`);
  for (const key of functions) if (!functionKeys.includes(key)) fail(`${where}.functions: no such function ${key}`);
  const kmsKeyArn = settings.kmsKeyArn || '';
  if (kmsKeyArn !== '' && !KMS_KEY_ARN.test(kmsKeyArn)) fail(`${where}.kmsKeyArn: a KMS key ARN, not "${kmsKeyArn}"`);
  const offNeeds = settings.offNeeds || {};
  if (!isDict(offNeeds)) fail(`${where}.offNeeds: expected { <VARIABLE>: <value> }`);
  const base = { variable, functions, describes: settings.describes || variable, kmsKeyArn, off, offNeeds };
  if (settings.secret === off) return { ...base, mode: 'off', arn: '' };
  if (settings.secret === 'generate' && canGenerate) return { ...base, mode: 'generate', arn: { Ref: secretLogicalId(variable) } };
  if (!SECRET_ARN.test(settings.secret)) fail(`${where}.secret: ${words}, not "${settings.secret}"`);
  return { ...base, mode: 'existing', arn: settings.secret };
}

/** Every entry of custom.secrets ([] when there is none). */
function secretSettings(custom, functionKeys) {
  const entries = custom.secrets;
  if (entries === undefined) return [];
  if (!isDict(entries)) fail('custom.secrets: expected { <VARIABLE>: { secret, functions, describes } }');
  return Object.entries(entries).map(([variable, settings]) => secretSetting(variable, settings, functionKeys));
}

/**
 * Refuses a plain value of a secret's variable in the configuration of a deployed stage:
 * `environments` maps `provider` and `functions.<key>` to their environment.
 */
function refusePlainValues(settings, environments, stage) {
  if (stage === 'local') return;
  for (const { variable } of settings) {
    for (const [where, environment] of Object.entries(environments)) {
      const plain = environment && environment[variable];
      if (typeof plain === 'string' && plain !== '') {
        const param = paramOf(variable);
        fail(`${where}: ${variable} would be plain text in the deployed configuration; leave ${param} empty and use ${param}Secret`);
      }
    }
  }
}

/** serverless.yml's parameter for a variable: METRICS_PUBLIC -> metricsPublic. */
function paramOf(variable) {
  return variable.toLowerCase().replace(/_([a-z])/g, (_, c) => c.toUpperCase());
}

/**
 * Refuses, on a deployed stage, a secret's off word where a function that would read it
 * lacks one of its `offNeeds` (functions' environments over the provider's, as Lambda gets them).
 */
function refuseUnmeantOff(settings, environments, stage) {
  if (stage === 'local') return;
  for (const s of settings.filter((x) => x.mode === 'off')) {
    for (const key of s.functions) {
      const environment = { ...environments.provider, ...environments[`functions.${key}`] };
      for (const [needed, value] of Object.entries(s.offNeeds)) {
        if (String(environment[needed]) === String(value)) continue;
        fail(
          `custom.secrets.${s.variable}: "${s.off}" leaves ${key} without one while its ${needed} is "${environment[needed] ?? ''}"; ` +
            `set ${paramOf(needed)}=${value} as well to mean it, or give it a secret`,
        );
      }
    }
  }
}

/** What `functionKey` may read: the IAM statements for the secrets it is given. */
function secretStatements(settings, functionKey) {
  const mine = settings.filter((s) => s.mode !== 'off' && s.functions.includes(functionKey));
  if (mine.length === 0) return [];
  const statements = [
    statement(
      ['secretsmanager:GetSecretValue'],
      mine.map((s) => s.arn),
    ),
  ];
  const keys = [...new Set(mine.map((s) => s.kmsKeyArn).filter((k) => k !== ''))];
  if (keys.length > 0) {
    // Decrypting with the key only for Secrets Manager's reads in this region.
    statements.push(
      statement(['kms:Decrypt'], keys, {
        StringEquals: { 'kms:ViaService': { 'Fn::Sub': 'secretsmanager.${AWS::Region}.amazonaws.com' } },
      }),
    );
  }
  return statements;
}

/** The variables whose secrets `functionKey` reads (for its role's description). */
function secretsReadBy(settings, functionKey) {
  return settings.filter((s) => s.mode !== 'off' && s.functions.includes(functionKey)).map((s) => s.variable);
}

/** The secrets the stack makes. */
function generatedSecrets(settings, { service, stage }) {
  const out = {};
  for (const s of settings.filter((x) => x.mode === 'generate')) {
    const readers = s.functions.join(', ');
    out[secretLogicalId(s.variable)] = {
      Type: 'AWS::SecretsManager::Secret',
      Metadata: checkovSkips([
        [
          'CKV2_AWS_57',
          `A bearer token with no system behind it to update: rotate it with put-secret-value; ${readers} read the new value within 60 s (src/secrets.ts)`,
        ],
        [
          'CKV_AWS_149',
          `The account key aws/secretsmanager is enough for one bearer token; a customer managed key would also need kms:Decrypt for ${readers}`,
        ],
      ]),
      Properties: {
        Description: `${service}-${stage}: ${s.describes}`,
        GenerateSecretString: { PasswordLength: 48, ExcludePunctuation: true },
      },
    };
  }
  return out;
}

/**
 * `${file(./infra/aws/secrets.cjs):arn.<VARIABLE>}`: the value of <VARIABLE>_SECRET_ARN
 * ('' when it has no secret), for every entry of custom.secrets. Serverless calls it with its
 * resolver's context; which functions read each secret is checked with the resources.
 */
async function arn({ resolveConfigurationProperty }) {
  const entries = (await resolveConfigurationProperty(['custom', 'secrets'])) || {};
  if (!isDict(entries)) fail('custom.secrets: expected { <VARIABLE>: { secret, functions, describes } }');
  return Object.fromEntries(
    Object.entries(entries).map(([variable, settings]) => [
      variable,
      secretSetting(variable, { ...settings, functions: ['(any)'] }, ['(any)']).arn,
    ]),
  );
}

module.exports = {
  arn,
  secretSettings,
  refusePlainValues,
  refuseUnmeantOff,
  secretStatements,
  secretsReadBy,
  generatedSecrets,
  secretLogicalId,
};
