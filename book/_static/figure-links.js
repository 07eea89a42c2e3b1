// A figure shown narrower than its file opens at full size on click: wrap it in a link to
// the image itself (the notebooks' figures are rendered by myst-nb without one).
document.addEventListener("DOMContentLoaded", () => {
  const wrap = (img) => {
    if (img.closest("a") || img.naturalWidth <= img.clientWidth * 1.05) return;
    const link = document.createElement("a");
    link.href = img.getAttribute("src");  // relative, as the page has it
    link.className = "modcore-full-size";
    link.title = "open the full-size image";
    img.replaceWith(link);
    link.appendChild(img);
  };
  document.querySelectorAll("article img").forEach((img) => {
    if (img.complete) wrap(img); else img.addEventListener("load", () => wrap(img), { once: true });
  });
});
