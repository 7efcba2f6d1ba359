import type { Theme } from "vitepress";
import DefaultTheme from "vitepress/theme";
import AcceptCalculator from "./components/AcceptCalculator.vue";
import CloseCodeLookup from "./components/CloseCodeLookup.vue";
import DeflateNegotiation from "./components/DeflateNegotiation.vue";
import EchoPlayground from "./components/EchoPlayground.vue";
import FrameBuilder from "./components/FrameBuilder.vue";
import FrameInspector from "./components/FrameInspector.vue";
import WorkbookMap from "./components/WorkbookMap.vue";
import "./custom.css";

/** The default theme, plus the widgets, usable on any page: `<FrameInspector />` (see components/README.md). */
export default {
  extends: DefaultTheme,
  enhanceApp({ app }) {
    app.component("FrameInspector", FrameInspector);
    app.component("FrameBuilder", FrameBuilder);
    app.component("AcceptCalculator", AcceptCalculator);
    app.component("CloseCodeLookup", CloseCodeLookup);
    app.component("EchoPlayground", EchoPlayground);
    app.component("DeflateNegotiation", DeflateNegotiation);
    app.component("WorkbookMap", WorkbookMap);
  },
} satisfies Theme;
