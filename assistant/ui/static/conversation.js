element.addEventListener('click', (e) => {
  const b = e.target.closest('[data-cite]');
  if (!b || !element.contains(b)) return;
  e.preventDefault();
  element.querySelectorAll('.active').forEach((x) => x.classList.remove('active'));
  b.classList.add('active');
  trigger('cite', {turn: Number(b.dataset.turn), n: Number(b.dataset.cite)});
});
