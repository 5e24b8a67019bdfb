// "Copy with sources": the conversation's Markdown (held in the hidden textarea beside the button)
// to the clipboard. navigator.clipboard needs a secure context (https or localhost); on a plain-http
// address in the network the textarea fallback (execCommand) still copies.
element.addEventListener('click', async (e) => {
  const b = e.target.closest('button.copy-sources');
  if (!b || !element.contains(b) || b.disabled) return;
  e.preventDefault();
  const text = element.querySelector('textarea.export-markdown').value;
  let ok = false;
  if (navigator.clipboard && window.isSecureContext) {
    try { await navigator.clipboard.writeText(text); ok = true; } catch (err) { ok = false; }
  }
  if (!ok) {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.setAttribute('readonly', '');
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    try { ok = document.execCommand('copy'); } catch (err) { ok = false; }
    ta.remove();
  }
  const status = element.querySelector('.copy-status');
  if (status) status.textContent = ok ? b.dataset.copied : b.dataset.failed;
  element.dataset.copied = ok ? 'yes' : 'no';
});
