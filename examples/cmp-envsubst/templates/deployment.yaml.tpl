apiVersion: apps/v1
kind: Deployment
metadata:
  name: ${ARGOCD_APP_NAME}
spec:
  replicas: ${ARGOCD_ENV_REPLICAS}
  selector:
    matchLabels:
      app.kubernetes.io/name: ${ARGOCD_APP_NAME}
  template:
    metadata:
      labels:
        app.kubernetes.io/name: ${ARGOCD_APP_NAME}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          env:
            - name: GREETING
              valueFrom:
                configMapKeyRef:
                  name: ${ARGOCD_APP_NAME}-greeting
                  key: greeting
