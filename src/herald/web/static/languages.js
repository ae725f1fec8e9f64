// @ts-check
// Languages as staff read them (SPEC 2.3): "Estonian (et)", and who reads which
// variant, as the server counts it (X-Variant-Counts).

const names = typeof Intl.DisplayNames === "function" ? new Intl.DisplayNames(undefined, { type: "language" }) : null;

/** "Estonian (et)"; the tag alone when the browser has no name for it. @param {string} tag */
export function languageName(tag) {
  let name = "";
  try { name = (names && names.of(tag)) || ""; } catch (err) { name = ""; }
  return name && name.toLowerCase() !== tag ? `${name} (${tag})` : tag;
}

/** "Estonian (et): 1,204 · Default: 8,311" from `et=1204, =8311`. @param {string | null} header */
export function variantLine(header) {
  if (!header) return "";
  return header.split(", ").map((part) => {
    const [tag, count] = part.split("=");
    return `${tag ? languageName(tag) : "Default"}: ${Number(count).toLocaleString()}`;
  }).join(" · ");
}

/** The tag a person typed, as the server keeps it, or null when it is not one. @param {string} value */
export function readTag(value) {
  const tag = value.trim().toLowerCase();
  return /^[a-z]{2,3}(-[a-z0-9]{2,8})*$/.test(tag) && tag.length <= 35 ? tag : null;
}
