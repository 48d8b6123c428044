import { afterAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/app.js';
import { type BrowserPage, findChromium, openBrowserPage } from '../support/browser.js';
import { announceSkip } from '../support/services.js';

const chromium = findChromium();
if (!chromium) announceSkip('GraphiQL in a real browser', 'CHROMIUM_PATH (or install Debian chromium)');

let t: TestApp | undefined;
let page: BrowserPage | undefined;
afterAll(async () => {
  await page?.close();
  await t?.stop();
});

describe.skipIf(!chromium)('GraphiQL in headless Chromium', () => {
  it('loads without any CDN, and its preloaded live-ticks subscription streams over WebSocket', async () => {
    t = await startTestApp({ SIMULATOR_TICKS_PER_SECOND: '100' });
    let upgrades = 0;
    t.app.parts.server!.httpServer.on('upgrade', () => {
      upgrades += 1;
    });
    page = await openBrowserPage(chromium!);
    await page.navigate(`${t.url}/graphql`);
    await page.waitFor('!!document.querySelector(".graphiql-execute-button")', 'GraphiQL to render');

    const tabs = await page.evaluate<string[]>(
      '[...document.querySelectorAll(".graphiql-tab")].map(t => t.textContent)',
    );
    expect(tabs.join(' ')).toMatch(/LiveTicks.*FeedStatus.*History.*Subscribe/);
    expect(
      await page.evaluate<string>('document.querySelector(".graphiql-query-editor").textContent.replace(/\\s+/g, " ")'),
    ).toContain('subscription LiveTicks');

    // Run the first (selected) example: the live ticks subscription.
    await page.evaluate('document.querySelector(".graphiql-execute-button").click()');
    const response = await page.waitFor<string>(
      '(() => { const text = document.querySelector(".graphiql-response")?.textContent ?? ""; return /"ltp"/.test(text) && text; })()',
      'live ticks in the response pane',
    );
    expect(response).not.toMatch(/"errors"/);
    expect(upgrades).toBeGreaterThan(0);
    expect(t.app.parts.services!.bus.stats().subscribers).toBeGreaterThan(0);
  });
});
