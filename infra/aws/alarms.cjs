'use strict';
/**
 * CloudWatch alarms for a deployed stage (custom.alarms in serverless.yml), all notifying
 * one SNS topic:
 *
 *   custom.alarms: {
 *     topic: generate | <SNS topic ARN>,   generate: a topic of this stack (subscribe to it);
 *                                          an ARN: a topic you have
 *     offsetLagThreshold: <records>,       an event source mapping's OffsetLag above this for 15 minutes
 *     api5xxThreshold: <responses>,        this many 5xx answers of the HTTP API in 5 minutes
 *   }
 *
 * - every function's Errors and Throttles (AWS/Lambda, dimension FunctionName): one in five
 *   minutes is one too many;
 * - every Kafka event source mapping's OffsetLag: the records its consumer group has not
 *   processed yet, "at the topic level", which Lambda reports per function
 *   (docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-types.html; the dimensions:
 *   docs.aws.amazon.com/lambda/latest/dg/monitoring-metrics-view.html). Each consumer
 *   function has exactly one mapping, so its FunctionName names its mapping;
 * - the HTTP API's 5xx (AWS/ApiGateway, dimension ApiId:
 *   docs.aws.amazon.com/apigateway/latest/developerguide/http-api-metrics.html).
 * Missing data (no invocations, no traffic) is not a breach. Plain CommonJS, required by
 * ./serverless-resources.cjs while serverless resolves variables.
 */
const naming = require('serverless/lib/plugins/aws/lib/naming');
const { isDict, failer, checkovSkips } = require('./cfn.cjs');

const fail = failer('alarms.cjs');
const ALARM_TOPIC_ID = 'AlarmTopic';
const SNS_TOPIC_ARN = /^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_-]{1,256}$/;
const FIVE_MINUTES = 300;

function wholeNumber(value, what) {
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n) || n < 1) fail(`${what}: a whole number of at least 1, not "${value}"`);
  return n;
}

function alarm({ name, description, namespace, metric, dimensions, statistic, periods, threshold, topic }) {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmName: name,
      AlarmDescription: description,
      Namespace: namespace,
      MetricName: metric,
      Dimensions: dimensions,
      Statistic: statistic,
      Period: FIVE_MINUTES,
      EvaluationPeriods: periods,
      Threshold: threshold,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: [topic],
      OKActions: [topic],
    },
  };
}

function alarmTopic({ service, stage }) {
  return {
    Type: 'AWS::SNS::Topic',
    Metadata: checkovSkips([
      [
        'CKV_AWS_26',
        'Carries alarm notifications only (alarm names and states); CloudWatch publishes only to a topic whose key grants it kms:Decrypt and kms:GenerateDataKey*, which the AWS managed key aws/sns cannot (docs.aws.amazon.com/sns/latest/dg/sns-key-management.html), and a customer managed key is not worth it here',
      ],
    ]),
    Properties: { DisplayName: `${service}-${stage} alarms` },
  };
}

/** The alarms of custom.alarms ({} when there is none). */
function alarmResources({ custom, functions, service, stage }) {
  const settings = custom.alarms;
  if (settings === undefined) return {};
  if (!isDict(settings) || typeof settings.topic !== 'string')
    fail('custom.alarms: expected { topic, offsetLagThreshold, api5xxThreshold }');
  if (settings.topic !== 'generate' && !SNS_TOPIC_ARN.test(settings.topic))
    fail(`custom.alarms.topic: "generate" or an SNS topic ARN, not "${settings.topic}"`);
  const topic = settings.topic === 'generate' ? { Ref: ALARM_TOPIC_ID } : settings.topic;
  const offsetLag = wholeNumber(settings.offsetLagThreshold, 'custom.alarms.offsetLagThreshold');
  const api5xx = wholeNumber(settings.api5xxThreshold, 'custom.alarms.api5xxThreshold');
  const prefix = `${service}-${stage}`;
  const out = settings.topic === 'generate' ? { [ALARM_TOPIC_ID]: alarmTopic({ service, stage }) } : {};
  for (const [key, fn] of Object.entries(functions)) {
    const id = naming.getNormalizedFunctionName(key);
    const dimensions = [{ Name: 'FunctionName', Value: { Ref: naming.getLambdaLogicalId(key) } }];
    const common = { namespace: 'AWS/Lambda', dimensions, topic };
    out[`${id}ErrorsAlarm`] = alarm({
      ...common,
      name: `${prefix}-${key}-errors`,
      description: `${key}: an invocation failed`,
      metric: 'Errors',
      statistic: 'Sum',
      periods: 1,
      threshold: 1,
    });
    out[`${id}ThrottlesAlarm`] = alarm({
      ...common,
      name: `${prefix}-${key}-throttles`,
      description: `${key}: an invocation was throttled`,
      metric: 'Throttles',
      statistic: 'Sum',
      periods: 1,
      threshold: 1,
    });
    if ((fn.events || []).some((e) => isDict(e) && isDict(e.msk))) {
      out[`${id}OffsetLagAlarm`] = alarm({
        ...common,
        name: `${prefix}-${key}-offset-lag`,
        description: `${key}: its consumer group has been ${offsetLag} or more records behind its topic for 15 minutes`,
        metric: 'OffsetLag',
        statistic: 'Maximum',
        periods: 3,
        threshold: offsetLag,
      });
    }
  }
  const httpApi = Object.values(functions).some((fn) => (fn.events || []).some((e) => isDict(e) && e.httpApi !== undefined));
  if (httpApi) {
    out.HttpApi5xxAlarm = alarm({
      name: `${prefix}-http-api-5xx`,
      description: `the HTTP API answered ${api5xx} or more 5xx in 5 minutes`,
      namespace: 'AWS/ApiGateway',
      metric: '5xx',
      dimensions: [{ Name: 'ApiId', Value: { Ref: naming.getHttpApiLogicalId() } }],
      statistic: 'Sum',
      periods: 1,
      threshold: api5xx,
      topic,
    });
  }
  return out;
}

module.exports = { alarmResources };
