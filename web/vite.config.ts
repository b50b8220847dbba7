import { defineConfig } from 'vite';

export default defineConfig({
  // The AWS SDK makes one large chunk; that is expected for this small app.
  build: { chunkSizeWarningLimit: 1024, sourcemap: true },
  // `npm run dev` talks to whatever /config.json says; the dev server serves web/public.
  server: { host: '127.0.0.1', port: 5173, strictPort: true },
});
