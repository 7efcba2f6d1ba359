import { inBrowser, useRoute, type Theme } from "vitepress";
import { nextTick, onMounted, watch } from "vue";
import DefaultTheme from "vitepress/theme";
import AcceptCalculator from "./components/AcceptCalculator.vue";
import ChatRoom from "./components/ChatRoom.vue";
import CloseCodeLookup from "./components/CloseCodeLookup.vue";
import DeflateNegotiation from "./components/DeflateNegotiation.vue";
import EchoPlayground from "./components/EchoPlayground.vue";
import FrameBuilder from "./components/FrameBuilder.vue";
import FrameInspector from "./components/FrameInspector.vue";
import WorkbookMap from "./components/WorkbookMap.vue";
import "./custom.css";

/**
 * Marks every table of the page that is wider than its box (it scrolls sideways,
 * VitePress's rule) with `wb-scrolls`, which shows a scroll cue (custom.css);
 * again whenever a table's width changes (a phone turned, a window narrowed).
 */
function markScrollingTables(): void {
  const observer = new ResizeObserver((entries) => {
    for (const { target } of entries) target.classList.toggle("wb-scrolls", target.scrollWidth > target.clientWidth + 1);
  });
  const observeAll = () => {
    observer.disconnect();
    for (const table of document.querySelectorAll(".vp-doc table")) observer.observe(table);
  };
  const route = useRoute();
  onMounted(observeAll);
  watch(() => route.path, () => void nextTick(observeAll));
}

/** The default theme, plus the widgets, usable on any page: `<FrameInspector />` (see components/README.md). */
export default {
  extends: DefaultTheme,
  setup() {
    if (inBrowser) markScrollingTables();
  },
  enhanceApp({ app }) {
    app.component("FrameInspector", FrameInspector);
    app.component("FrameBuilder", FrameBuilder);
    app.component("AcceptCalculator", AcceptCalculator);
    app.component("CloseCodeLookup", CloseCodeLookup);
    app.component("EchoPlayground", EchoPlayground);
    app.component("DeflateNegotiation", DeflateNegotiation);
    app.component("ChatRoom", ChatRoom);
    app.component("WorkbookMap", WorkbookMap);
  },
} satisfies Theme;
