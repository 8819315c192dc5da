// whatsapp-web.js depends on Puppeteer, which would download its own Chrome
// on install. chatsync runs it on a system Chromium (CHROMIUM_PATH), so the
// download is off here as well as through PUPPETEER_SKIP_DOWNLOAD=1.
module.exports = { skipDownload: true };
