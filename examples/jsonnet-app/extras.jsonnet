// External variables: appName (string, envsubst'ed), tier (code).
local labels = import 'labels/labels.libsonnet';
local appName = std.extVar('appName');
local tier = std.extVar('tier');

[
  {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'guestbook-info', labels: labels.common('guestbook') },
    data: { app: appName, tier: tier },
  },
  [
    {
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'guestbook' },
    },
  ],
]
