// Markdown highlighting from @lezer/markdown (CommonMark + GFM) without the nested HTML,
// CSS and JavaScript languages that @codemirror/lang-markdown brings (a third of the page).
import { Language, LanguageSupport, defineLanguageFacet, languageDataProp } from "@codemirror/language";
import { GFM, parser } from "@lezer/markdown";

const data = defineLanguageFacet({ commentTokens: { block: { open: "<!--", close: "-->" } } });
const language = new Language(
  data, parser.configure([GFM, { props: [languageDataProp.add({ Document: data })] }]), [], "markdown");

export function markdown() {
  return new LanguageSupport(language);
}
