import type { MouseEvent, ReactNode } from 'react';
import { navigate, pathOf } from '../state/router.js';
import type { Route } from '../state/router.js';

/** An ordinary link (open in a new tab works) that navigates in the page on a plain click. */
export function Link({ to, children, className, label }: { to: Route; children: ReactNode; className?: string; label?: string }) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={pathOf(to)} onClick={onClick} className={className} aria-label={label}>
      {children}
    </a>
  );
}
