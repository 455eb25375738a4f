"""The central's web pages: shared sign-in (:mod:`.session`), inline-SVG charts (:mod:`.charts`), Jinja2 templates.

Pages are server-rendered, Chinese first, mobile-first (DESIGN §8b): body text 18 px on a
360 px phone, targets 48 px, contrast ≥ 4.5:1, no script.  A module's page route (e.g.
:mod:`sync.central.analytics.page`) renders a template of ``templates/`` with :func:`.session.render`.
:func:`sync.central.app.create_app` includes the sign-in routes (``/web/login``, ``/web/logout``) and
each page's router beside the modules' API routers; pages stay out of the OpenAPI schema.
"""
