// The document panel: "Remove" first asks in the row (no browser dialog), "Yes, remove" and
// "Re-index" send the row's source to the server; "Summarise" puts the document's summary into the
// conversation.
element.addEventListener('click', (e) => {
  const b = e.target.closest('button[data-action]');
  if (!b || !element.contains(b)) return;
  const row = b.closest('[data-source]');
  if (!row) return;
  e.preventDefault();
  const confirm = row.querySelector('.doc-confirm');
  const action = b.dataset.action;
  if (action === 'ask-remove') { confirm.hidden = false; return; }
  if (action === 'cancel') { confirm.hidden = true; return; }
  if (action === 'summarize') { trigger('summarize_doc', {source: row.dataset.source}); return; }
  row.classList.add('busy');
  if (action === 'remove') trigger('remove_doc', {source: row.dataset.source});
  else if (action === 'reindex') trigger('reindex_doc', {source: row.dataset.source});
});
