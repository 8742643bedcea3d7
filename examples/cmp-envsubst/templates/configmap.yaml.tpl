apiVersion: v1
kind: ConfigMap
metadata:
  name: ${ARGOCD_APP_NAME}-greeting
  labels:
    app.kubernetes.io/name: ${ARGOCD_APP_NAME}
data:
  greeting: '${ARGOCD_ENV_GREETING}'
  namespace: '${ARGOCD_APP_NAMESPACE}'
