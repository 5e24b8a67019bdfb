// The Conversations panel: open a row, rename it in the row, delete it after a confirmation in the row.
element.addEventListener('click', (e) => {
  const b = e.target.closest('button[data-action]');
  if (!b || !element.contains(b)) return;
  const row = b.closest('[data-id]');
  if (!row) return;
  e.preventDefault();
  const form = row.querySelector('.conv-rename-form');
  const confirm = row.querySelector('.conv-confirm');
  const action = b.dataset.action;
  if (action === 'ask-rename') { form.hidden = false; confirm.hidden = true; form.querySelector('input').focus(); return; }
  if (action === 'ask-delete') { confirm.hidden = false; form.hidden = true; return; }
  if (action === 'cancel') { form.hidden = true; confirm.hidden = true; return; }
  row.classList.add('busy');
  if (action === 'open') trigger('open_conv', {id: row.dataset.id});
  else if (action === 'rename') trigger('rename_conv', {id: row.dataset.id, title: form.querySelector('input').value});
  else if (action === 'delete') trigger('delete_conv', {id: row.dataset.id});
});
element.addEventListener('keydown', (e) => {
  if (e.key !== 'Enter' || !e.target.matches('input.conv-title')) return;
  e.preventDefault();
  const row = e.target.closest('[data-id]');
  trigger('rename_conv', {id: row.dataset.id, title: e.target.value});
});
