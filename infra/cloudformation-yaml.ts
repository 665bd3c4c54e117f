/**
 * A js-yaml schema that reads CloudFormation's short tags (`!Ref x`, `!GetAtt a.b`, `!Sub …`,
 * …) as `{ Tag: argument }`, for code that reads serverless.yml or the templates in
 * infra/aws without CloudFormation: `npm start`'s summary and the package test.
 */
import yaml from 'js-yaml';

const SHORT_TAGS = [
  'Ref',
  'Sub',
  'GetAtt',
  'If',
  'Equals',
  'Not',
  'And',
  'Or',
  'Join',
  'Split',
  'Select',
  'ImportValue',
  'GetAZs',
  'Cidr',
  'Condition',
];

export const CLOUDFORMATION_SCHEMA = yaml.DEFAULT_SCHEMA.extend(
  SHORT_TAGS.flatMap((name) =>
    (['scalar', 'sequence', 'mapping'] as const).map(
      (kind) => new yaml.Type(`!${name}`, { kind, construct: (data: unknown) => ({ [name]: data }) }),
    ),
  ),
);
