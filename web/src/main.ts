import { createApp, h } from "vue";

// Placeholder until the app shell lands.
createApp({ render: () => h("p", "chatsync web client") }).mount("#app");
