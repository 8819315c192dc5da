import { createApp } from "vue";
import { createConnectTransport } from "@connectrpc/connect-web";
import App from "./App.vue";
import { transportKey } from "./keys";
import { createAppRouter } from "./router";
import { authInterceptor } from "./lib/auth";
import { currentToken, tokenRejected } from "./composables/useAuth";

// The one transport of the app. The Go server serves this client at / on the
// same origin as the API (the Vite dev server proxies the API paths).
const transport = createConnectTransport({
  baseUrl: window.location.origin,
  interceptors: [authInterceptor(currentToken, tokenRejected)],
});

createApp(App).provide(transportKey, transport).use(createAppRouter()).mount("#app");
