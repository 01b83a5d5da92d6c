import type { Config } from "@react-router/dev/config";

export default {
  // Server-side rendering; set to false for SPA mode.
  ssr: true,
} satisfies Config;
