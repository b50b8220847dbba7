import { defaultClientConditions, defineConfig } from 'vite';

export default defineConfig({
  // The AWS SDK makes one large chunk; that is expected for this small app.
  build: { chunkSizeWarningLimit: 1024, sourcemap: true },
  // @stsvend/credentials (clients/js, linked by npm) from its TypeScript source: no build of the
  // package needed first. The same condition is in tsconfig.json.
  resolve: { conditions: ['@stsvend/source', ...defaultClientConditions] },
  // `npm run dev` talks to whatever /config.json says; the dev server serves web/public.
  server: { host: '127.0.0.1', port: 5173, strictPort: true },
});
