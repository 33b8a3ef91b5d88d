DROP TABLE outbox, preferences, goal_inputs, goal_progress, procedure_favourites, signatures, activities,
  plan_assignments, local_activities, plan_template_goals, plan_templates, arenas;
DROP TABLE recommended_activities, national_procedures, goals, catalog_versions, specialties;
