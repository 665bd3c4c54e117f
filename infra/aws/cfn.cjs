'use strict';
/**
 * Small pieces of CloudFormation the modules of infra/aws share (plain CommonJS: serverless
 * requires them while it resolves variables).
 */

function isDict(value) {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** An error that names the module and the setting that is wrong. */
function failer(module) {
  return (message) => {
    throw new Error(`infra/aws/${module}: ${message}`);
  };
}

/** Metadata that tells checkov (the policy scanner in CI) why a check does not apply, in place. */
function checkovSkips(skips) {
  return { checkov: { skip: skips.map(([id, comment]) => ({ id, comment })) } };
}

function statement(actions, resources, condition) {
  return { Effect: 'Allow', Action: actions, Resource: resources, ...(condition ? { Condition: condition } : {}) };
}

/** `ADMIN_TOKEN` -> `AdminToken`. */
function pascal(variable) {
  return variable
    .toLowerCase()
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

module.exports = { isDict, failer, checkovSkips, statement, pascal };
