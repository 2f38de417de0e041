/** `balmkit view`: serving the viewer page and structure files, and headless screenshots. */
export { CHROMIUM_CANDIDATES, CHROMIUM_FLAGS, findChromium, launchChromium } from './chromium.js';
export { type StructureFormat, type StructureKind, type ViewFile, type ViewFileInfo, ViewInputError, detectFormat, detectKind, notAStructure, readViewFile, resolveViewFiles } from './files.js';
export { VIEW_HOST, type ViewServer, type ViewServerOptions, defaultViewerDir, startViewServer } from './server.js';
export { type ScreenshotOptions, type ViewColorMode, type ViewPageOptions, type ViewPageSummary, renderScreenshot, viewPageUrl, waitForViewer } from './screenshot.js';
export { type ServeViewerOptions, serveViewer } from './serve.js';
