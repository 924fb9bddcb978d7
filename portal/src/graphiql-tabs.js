// The example operations from graphql/operations/ as GraphiQL tabs, PushProducts first with the
// product contract's example record as its variables.
import operations, { exampleVariables } from 'virtual:operations';

const json = (value) => (value ? JSON.stringify(value, null, 2) : undefined);
const ordered = [
  ...operations.filter((op) => op.name === 'PushProducts'),
  ...operations.filter((op) => op.name !== 'PushProducts'),
];

export const exampleTabs = ordered.map((op) => ({
  query: op.text,
  variables: json(exampleVariables[op.name]),
}));
